//! Scriptlets with the el7 bodies of the systemd macros. `%pre` refuses a machine that is
//! not a host of this cluster (and runs the fatal preflight checks) before anything changes;
//! first install enables and starts exactly this host's services (unless
//! /etc/bundler/no-autostart exists); upgrade restarts them and enables and starts the ones the
//! new release adds; erase stops and disables them, except those another installed role still
//! runs.
//!
//! A role package's `%pretrans` runs before any package of the transaction is installed (its
//! dependencies included), so it checks the machine against copies of the host list and of
//! host-identity it carries as data. k8s-common's %pre runs first of the %pre scriptlets (every
//! other package requires it before its own %pre) and checks the same way. A refusal is left in
//! a note named after the transaction's process (`$PPID`, the same for every scriptlet of one
//! rpm run), so every later %pre of that transaction, k8s-common's included, refuses with the
//! same host list rather than a shell error, and nothing of the transaction is installed.

use crate::model::File as Rendered;
use crate::plan::{Package, Plan};
use crate::specs::{PackageDef, PackageKind, Role};

/// %pretrans, %pre, %post, %preun, %postun.
type Scripts = (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

pub fn for_package(p: &Package, def: &PackageDef, roles: &[Role], _plan: &Plan, rendered: &[Rendered]) -> Scripts {
    match p.kind {
        PackageKind::Config => common(rendered),
        PackageKind::Role => role(&p.name, roles, rendered),
        PackageKind::Binary | PackageKind::Images => binary(&p.name, &def.restart),
    }
}

/// Where a role package records the services it enabled on this host (one line, as
/// `host-identity --services` prints them), so an
/// upgrade knows which ones are new: `/var/lib/bundler/services.ROLE`.
const STATE: &str = "/var/lib/bundler/services";

/// Where a refusal is left for the rest of the transaction (by a role package's %pretrans or
/// k8s-common's %pre).
const NOTE: &str = "/run/bundler/refused.$PPID";

/// Refuse with the note an earlier scriptlet of this transaction left, when there is one.
fn refused_note(name: &str) -> String {
    format!(
        r#"if [ -s {NOTE} ]; then
  echo "{name}: not installing; this machine was refused:" >&2
  cat {NOTE} >&2
  exit 1
fi
"#
    )
}

/// The start of every %pre but k8s-common's: refuse as an earlier scriptlet refused, and need
/// k8s-common's host-identity.
fn refused_earlier(name: &str) -> String {
    format!(
        r#"{}if [ ! -x /usr/libexec/bundler/host-identity ]; then
  echo "{name}: k8s-common (this cluster's host list) is missing; let yum bring it in, it comes first" >&2
  exit 1
fi
"#,
        refused_note(name)
    )
}

/// Check this machine against copies of the host list and of host-identity embedded in the
/// scriptlet as quoted here-documents (data, never shell), for a scriptlet that runs before
/// k8s-common's files are on disk: k8s-common's %pre, and every role package's %pretrans,
/// which runs before anything of the transaction is installed. A refusal is printed and left
/// in the note, so every later %pre of the transaction refuses too.
fn embedded_check(rendered: &[Rendered], who: &str, role: Option<Role>) -> String {
    let get = |p: &str| rendered.iter().find(|r| r.path == p).map(|r| r.content.clone()).unwrap_or_default();
    let hosts = get("/etc/bundler/hosts");
    let script = get("/usr/libexec/bundler/host-identity");
    let role = role.map(|r| format!(" {}", r.as_str())).unwrap_or_default();
    format!(
        r#"tmp=$(mktemp -d 2>/dev/null) || tmp=/tmp/{who}.$$
mkdir -p "$tmp"
cat > "$tmp/hosts" <<'BUNDLER_HOSTS_EOF'
{hosts}BUNDLER_HOSTS_EOF
cat > "$tmp/host-identity" <<'BUNDLER_SCRIPT_EOF'
{script}BUNDLER_SCRIPT_EOF
BUNDLER_HOSTS_FILE="$tmp/hosts" sh "$tmp/host-identity" --check{role} 2>"$tmp/refused"
rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$tmp/refused" >&2
  # For the other packages of this transaction (see rpm/scripts.rs).
  mkdir -p /run/bundler 2>/dev/null && cp "$tmp/refused" {NOTE} 2>/dev/null
fi
rm -rf "$tmp"
exit $rc
"#
    )
}

/// k8s-common carries the host list, so its %pre checks this machine against a copy of it
/// embedded in the scriptlet (its own files are not on disk yet).
fn common(rendered: &[Rendered]) -> Scripts {
    let pre = format!(
        "# Refuse a machine that is not a host of this cluster's inventory, before anything changes.\n{}{}",
        refused_note("k8s-common"),
        embedded_check(rendered, "k8s-common-pre", None)
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
    (None, Some(pre), Some(post), Some(preun), Some(postun))
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
    // Before any package of the transaction (its dependencies included) is installed or any
    // service enabled: refuse a host without this role.
    let pretrans = format!(
        "# {name}: only on a {r} host of this cluster; checked before anything of this transaction is installed.\n{}",
        embedded_check(rendered, &format!("{name}-pretrans"), Some(role)),
        r = role.as_str()
    );
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
    // The services this role runs on this host are recorded at each install and upgrade, so an
    // upgrade enables and starts the ones the new release adds (k8s-api-proxy.service on a node
    // once a second control-plane host came) as a first install would, and leaves the others
    // to %postun's try-restart (a service the admin disabled stays disabled).
    let post = format!(
        r#"/usr/libexec/bundler/host-identity --write >/dev/null || :
systemctl daemon-reload >/dev/null 2>&1 || :
state={STATE}.{r}
had=" $(cat "$state" 2>/dev/null) "
now=$(/usr/libexec/bundler/host-identity --services {r})
if [ ! -e /etc/bundler/no-autostart ]; then
  for s in $now; do
    if [ "$1" -ne 1 ]; then
      case "$had" in *" $s "*) continue ;; esac
    fi
    systemctl enable "$s" >/dev/null 2>&1 || :
    systemctl start --no-block "$s" >/dev/null 2>&1 || :
  done
fi
mkdir -p /var/lib/bundler && echo $now > "$state" 2>/dev/null || :
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
    let preun = format!("if [ \"$1\" -eq 0 ]; then\n{stop}  rm -f {STATE}.{r}\nfi\nexit 0\n", r = role.as_str());
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
    (Some(pretrans), Some(pre), Some(post), Some(preun), Some(postun))
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
    (None, Some(pre), None, None, postun)
}
