//! Scriptlets with the el7 bodies of the systemd macros. `%pre` refuses a machine that is
//! not a host of this cluster (and runs the fatal preflight checks) before anything changes;
//! first install enables and starts exactly this host's services (unless
//! /etc/bundler/no-autostart exists); upgrade restarts them; erase stops and disables them,
//! except those another installed role still runs.
//!
//! k8s-common's %pre runs first in every transaction (every other package requires it before
//! its own %pre). When it refuses the machine it leaves its message in a note named after the
//! transaction's process (`$PPID`, the same for every scriptlet of one rpm run), so every later
//! %pre of that transaction refuses with the same host list rather than a shell error.

use crate::plan::{Package, Plan};
use crate::render::File as Rendered;
use crate::specs::{PackageDef, PackageKind, Role};

type Scripts = (Option<String>, Option<String>, Option<String>, Option<String>);

pub fn for_package(p: &Package, def: &PackageDef, roles: &[Role], _plan: &Plan, rendered: &[Rendered]) -> Scripts {
    match p.kind {
        PackageKind::Config => common(rendered),
        PackageKind::Role => role(&p.name, roles, rendered),
        PackageKind::Binary | PackageKind::Images => binary(&p.name, &def.restart),
    }
}

/// Where k8s-common's %pre leaves its refusal for the rest of the transaction.
const NOTE: &str = "/run/bundler/refused.$PPID";

/// The start of every %pre but k8s-common's: refuse with k8s-common's message when it refused.
fn refused_earlier(name: &str) -> String {
    format!(
        r#"if [ -s {NOTE} ]; then
  echo "{name}: not installing; k8s-common refused this machine:" >&2
  cat {NOTE} >&2
  exit 1
fi
if [ ! -x /usr/libexec/bundler/host-identity ]; then
  echo "{name}: k8s-common (this cluster's host list) is missing; let yum bring it in, it comes first" >&2
  exit 1
fi
"#
    )
}

/// k8s-common carries the host list, so its %pre checks this machine against a copy of it
/// embedded in the scriptlet (its own files are not on disk yet).
fn common(rendered: &[Rendered]) -> Scripts {
    let get = |p: &str| rendered.iter().find(|r| r.path == p).map(|r| r.content.clone()).unwrap_or_default();
    let hosts = get("/etc/bundler/hosts");
    let script = get("/usr/libexec/bundler/host-identity");
    let pre = format!(
        r#"# Refuse a machine that is not a host of this cluster's inventory, before anything changes.
tmp=$(mktemp -d 2>/dev/null) || tmp=/tmp/k8s-common-pre.$$
mkdir -p "$tmp"
cat > "$tmp/hosts" <<'BUNDLER_HOSTS_EOF'
{hosts}BUNDLER_HOSTS_EOF
cat > "$tmp/host-identity" <<'BUNDLER_SCRIPT_EOF'
{script}BUNDLER_SCRIPT_EOF
BUNDLER_HOSTS_FILE="$tmp/hosts" sh "$tmp/host-identity" --check 2>"$tmp/refused"
rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$tmp/refused" >&2
  # For the other packages of this transaction (see rpm/scripts.rs).
  mkdir -p /run/bundler 2>/dev/null && cp "$tmp/refused" {note} 2>/dev/null
fi
rm -rf "$tmp"
exit $rc
"#,
        note = NOTE
    );
    let post = r#"/usr/libexec/bundler/host-identity --write >/dev/null || :
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -eq 1 ]; then
  systemctl enable bundler-host-identity.service >/dev/null 2>&1 || :
fi
modprobe br_netfilter >/dev/null 2>&1 || :
modprobe overlay >/dev/null 2>&1 || :
sysctl -p /etc/sysctl.d/90-kubernetes.conf >/dev/null 2>&1 || :
exit 0
"#
    .to_string();
    let preun = r#"if [ "$1" -eq 0 ]; then
  systemctl --no-reload disable bundler-host-identity.service >/dev/null 2>&1 || :
fi
exit 0
"#
    .to_string();
    let postun = "systemctl daemon-reload >/dev/null 2>&1 || :\nexit 0\n".to_string();
    (Some(pre), Some(post), Some(preun), Some(postun))
}

/// A file the role package of `role` owns and drops when erased (not an admin-edited one,
/// which may stay behind as .rpmsave): its presence says that role is installed.
fn marker(role: Role, rendered: &[Rendered]) -> Option<String> {
    let defs = crate::specs::packages();
    let def = defs.iter().find(|d| d.kind == PackageKind::Role && d.roles == [role])?;
    rendered.iter().find(|r| r.package == def.name && !r.config).map(|r| r.path.clone())
}

fn role(name: &str, roles: &[Role], rendered: &[Rendered]) -> Scripts {
    let role = roles.first().copied().expect("role packages serve one role");
    let services: Vec<&str> = crate::render::services(role).to_vec();
    let mut pre = refused_earlier(name);
    pre.push_str(&format!(
        r#"# {name}: only on a {r} host of this cluster, and only if the fatal preflight checks pass.
/usr/libexec/bundler/host-identity --check {r} || exit 1
if [ "$1" -eq 1 ]; then
  /usr/sbin/k8s-preflight --fatal-only {r} || {{ echo "{name}: fix the FATAL checks above, then install again" >&2; exit 1; }}
fi
"#,
        r = role.as_str()
    ));
    if role == Role::Etcd {
        pre.push_str("getent group etcd >/dev/null || groupadd -r etcd\ngetent passwd etcd >/dev/null || useradd -r -g etcd -d /var/lib/etcd -s /sbin/nologin -c \"etcd user\" etcd\n");
    }
    pre.push_str("exit 0\n");
    let post = format!(
        r#"/usr/libexec/bundler/host-identity --write >/dev/null || :
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -eq 1 ] && [ ! -e /etc/bundler/no-autostart ]; then
  for s in $(/usr/libexec/bundler/host-identity --services {r}); do
    systemctl enable "$s" >/dev/null 2>&1 || :
    systemctl start --no-block "$s" >/dev/null 2>&1 || :
  done
fi
exit 0
"#,
        r = role.as_str()
    );
    // On erase, a service another installed role also runs (flanneld on a host that is both
    // control plane and node) keeps running.
    let mut stop = String::new();
    for s in services.iter().rev() {
        let others: Vec<String> = [Role::Etcd, Role::ControlPlane, Role::Node]
            .into_iter()
            .filter(|r| *r != role && crate::render::services(*r).contains(s))
            .filter_map(|r| marker(r, rendered))
            .collect();
        let keep = others.iter().map(|m| format!("[ -e {m} ] || ")).collect::<String>();
        stop.push_str(&format!("  {keep}{{ systemctl --no-reload disable {s} >/dev/null 2>&1; systemctl stop {s} >/dev/null 2>&1; }} || :\n"));
    }
    let preun = format!("if [ \"$1\" -eq 0 ]; then\n{stop}fi\nexit 0\n");
    let postun = format!(
        r#"systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -ge 1 ]; then
  for s in {list}; do
    systemctl try-restart "$s" >/dev/null 2>&1 || :
  done
fi
exit 0
"#,
        list = services.join(" ")
    );
    (Some(pre), Some(post), Some(preun), Some(postun))
}

fn binary(name: &str, restart: &[String]) -> Scripts {
    let pre = format!(
        "{}if ! /usr/libexec/bundler/host-identity --check >/dev/null; then\n  echo \"{name}: this machine is not a host of the cluster; not installing\" >&2\n  exit 1\nfi\nexit 0\n",
        refused_earlier(name)
    );
    let postun = if restart.is_empty() {
        None
    } else {
        Some(format!(
            "if [ \"$1\" -ge 1 ]; then\n  for s in {}; do\n    systemctl try-restart \"$s\" >/dev/null 2>&1 || :\n  done\nfi\nexit 0\n",
            restart.join(" ")
        ))
    };
    (Some(pre), None, None, postun)
}
