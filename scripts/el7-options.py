#!/usr/bin/env python3
"""Builds specs/reference/el7-options/*.txt: the options each host tool accepts at the version
CentOS 7.4 ships, read from the upstream source at that tag (getopt_long short-option strings
and `struct option` tables). Run with the upstream git directories (bare clones are fine):

  scripts/el7-options.py coreutils COREUTILS_GIT
  scripts/el7-options.py iproute IPROUTE2_GIT
  scripts/el7-options.py rpm RPM_GIT          (rpm-software-management/rpm)
  scripts/el7-options.py yum YUM_GIT          (rpm-software-management/yum)
  scripts/el7-options.py curl CURL_GIT        (curl/curl)
  scripts/el7-options.py systemctl SYSTEMD_GIT (redhat-plumbers/systemd-rhel7)
  scripts/el7-options.py util-linux UTIL_LINUX_GIT (util-linux/util-linux; flock)
  scripts/el7-options.py grep GREP_GIT        (GNU grep)
  scripts/el7-options.py sed SED_GIT          (GNU sed)
  scripts/el7-options.py gawk GAWK_GIT        (GNU awk)
  scripts/el7-options.py kmod KMOD_GIT        (kmod-project/kmod; modprobe)
  scripts/el7-options.py procps PROCPS_GIT    (procps-ng; sysctl)
  scripts/el7-options.py shadow SHADOW_GIT    (shadow-maint/shadow; useradd, groupadd)
  scripts/el7-options.py selinux SELINUX_GIT  (SELinuxProject/selinux; getenforce)
  scripts/el7-options.py bash BASH_GIT        (GNU bash; sh and bash as invoked)
  scripts/el7-options.py hostname EL7_HOSTNAME_GIT (eurolinux-enterprise-linux-sources/hostname: el7's source rpm)
  scripts/el7-options.py xfsprogs XFSPROGS_GIT EL7_XFSPROGS_GIT (xfsprogs-dev; and the el7 source rpms, to compare)
  scripts/el7-options.py getent GLIBC_GIT EL7_GLIBC_GIT (bminor/glibc; and the el7 source rpms, to compare)
  scripts/el7-options.py openssl EL7_OPENSSL_GIT (eurolinux-enterprise-linux-sources/openssl: el7's source rpm;
                                              needs `patch`: the spec's patches are applied to a temporary copy)

Output lines: `TOOL<TAB>+` (options end at the first operand: a `+` getopt string),
`TOOL<TAB>-x` (short flag), `TOOL<TAB>-x ARG` (short option taking an argument),
`TOOL<TAB>-x OPTARG` (an optional argument, only attached: `sed -i.bak`),
`TOOL<TAB>--name` (long option; the lint ignores its argument), `TOOL<TAB>(none)` (the tool takes no
options at all). openssl: `openssl SUBCOMMAND<TAB>-name [ARG]` (single-dash long options), `-DIGEST`/`-CIPHER`
(any name of `openssl (digest)`/`openssl (cipher)`, the lines listing the names EVP_get_*byname knows). Options inside every `#ifdef` branch are listed: a list may hold one the el7 build
left out, never lack one it has."""
import re, subprocess, sys

def show(git, rev, path):
    return subprocess.run(["git", "--git-dir", git, "show", f"{rev}:{path}"], check=True, capture_output=True).stdout.decode("utf-8", "replace")

def commit(git, rev):
    return subprocess.run(["git", "--git-dir", git, "rev-parse", rev + "^{commit}"], check=True, capture_output=True, text=True).stdout.strip()

def c_strings(expr, src):
    """The value of a C string expression: literals, concatenated; a macro name, or the name of a
    `char const NAME[] = "...";` array (date.c and sort.c: short_options), is looked up."""
    out = ""
    # An initializer up to its `;`, which may also stand inside a literal (gawk's "W;").
    init = r'\s*=\s*((?:"(?:[^"\\]|\\.)*"|[^;"])*);'
    for lit, name in re.findall(r'"((?:[^"\\]|\\.)*)"|([A-Za-z_]\w*)', expr):
        if lit:
            out += lit
        elif name:
            m = re.search(r'#\s*define\s+' + name + r'\s+(.*)', src) or re.search(
                r'\b(?:char\s+const|const\s+char)\s+' + name + r'\s*\[\s*\]' + init, src) or re.search(
                r'\bconst\s+char\s*\*\s*' + name + init, src)
            if m:
                out += c_strings(m.group(1), src)
    return out

def short_opts(s):
    out, i = [], 0
    s = s.lstrip("+-:")
    while i < len(s):
        c = s[i]
        # `x:` takes an argument; `x::` an optional one, which getopt takes only when attached (-Ifoo);
        # `W;` (gawk) makes `-W foo` mean `--foo`: it takes an argument.
        arg = (s[i + 1 : i + 2] == ":" and s[i + 2 : i + 3] != ":") or s[i + 1 : i + 2] == ";"
        optional = s[i + 1 : i + 3] == "::"
        out.append(f"-{c} ARG" if arg else f"-{c} OPTARG" if optional else f"-{c}")
        i += 1
        while i < len(s) and s[i] in ":;":
            i += 1
    return out

def long_opts(src, table):
    m = re.search(r'struct\s+option\s+(?:const\s+)?' + re.escape(table) + r'\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\};', src, re.S)
    if not m:
        return []
    body = m.group(1)
    names = re.findall(r'\{\s*"([^"]+)"', body)
    if "GETOPT_HELP_OPTION_DECL" in body:
        names.append("help")
    if "GETOPT_VERSION_OPTION_DECL" in body:
        names.append("version")
    return ["--" + n for n in names if not n.startswith("-")]

def getopt_tool(src):
    opts = []
    # `getopt_long (argc, (char **) argv, ...)` (grep) casts argv; preprocessor lines inside the
    # call (useradd: the option string with and without WITH_SELINUX) are dropped, so both strings count.
    code = re.sub(r'^[ \t]*#.*$', '', src, flags=re.M)
    for m in re.finditer(r'getopt_long(?:_only)?\s*\(\s*\w+\s*,\s*(?:\([^)]*\)\s*)?\w+\s*,\s*(.*?),\s*(\w+)\s*,', code, re.S):
        shorts = c_strings(m.group(1), src)
        if shorts.startswith("+"):
            opts.append("+")  # options end at the first operand
        opts += short_opts(shorts) + long_opts(src, m.group(2))
    return opts

COREUTILS = {  # tool: source file at v8.22
    "basename": "src/basename.c", "cat": "src/cat.c", "chmod": "src/chmod.c", "cp": "src/cp.c", "cut": "src/cut.c",
    "date": "src/date.c", "df": "src/df.c", "dirname": "src/dirname.c", "head": "src/head.c", "id": "src/id.c",
    "install": "src/install.c", "ln": "src/ln.c", "mkdir": "src/mkdir.c", "mktemp": "src/mktemp.c", "mv": "src/mv.c",
    "rm": "src/rm.c", "sleep": "src/sleep.c", "env": "src/env.c", "nohup": "src/nohup.c", "sync": "src/sync.c", "rmdir": "src/rmdir.c", "sha256sum": "src/md5sum.c", "sort": "src/sort.c", "stat": "src/stat.c",
    "tail": "src/tail.c", "timeout": "src/timeout.c", "touch": "src/touch.c", "tr": "src/tr.c", "uniq": "src/uniq.c",
    "wc": "src/wc.c", "chown": "src/chown.c", "ls": "src/ls.c", "tee": "src/tee.c", "readlink": "src/readlink.c",
}

# tool family: (git revision, version, CentOS 7.4 package, [(tool, source file)], what was read).
# GNU grep, sed and gawk mirrors carry no tags: the revision is the release commit.
SIMPLE = {
    "grep": ("d7979b76388bdb37e75b564671adbb3b7749dcc1", "GNU grep 2.20", "grep-2.20-3.el7", [("grep", "src/grep.c")],
             "gnu-mirror-unofficial/grep (of git.savannah.gnu.org), the commit \"version 2.20\" (2014-06-03); src/grep.c: short_options[] and long_options[]."),
    "sed": ("e265d716a9d72027a97dde96d1234c2210e28a6b", "GNU sed 4.2.2", "sed-4.2.2-5.el7", [("sed", "sed/sed.c")],
            "gnu-mirror-unofficial/sed, the commit \"bump version number, set copyright year\" (2012-12-22, configure.ac AC_INIT 4.2.2); sed/sed.c: SHORTOPTS and longopts[]."),
    "gawk": ("e427f97daa5f252709f5380701f306e031585dde", "GNU awk 4.0.2", "gawk-4.0.2-4.el7_3.1", [("awk", "main.c")],
             "gnu-mirror-unofficial/gawk, the commit \"Rebuild 4.0.2 tarball.\" (2012-12-25, configure.ac AC_INIT 4.0.2); main.c: optlist (\"+...\": options end at the program text) and optab[]."),
    "kmod": ("v20", "kmod 20", "kmod-20-15.el7", [("modprobe", "tools/modprobe.c")],
             "tag v20 (kmod-project/kmod); tools/modprobe.c: cmdopts_s[] and cmdopts[]."),
    "procps": ("v3.3.10", "procps-ng 3.3.10", "procps-ng-3.3.10-16.el7", [("sysctl", "sysctl.c")],
               "tag v3.3.10 (warmchang/procps, a mirror of gitlab.com/procps-ng/procps); sysctl.c: its getopt_long string and longopts[]."),
    "shadow": ("4.1.5.1", "shadow-utils 4.1.5.1", "shadow-utils-4.1.5.1-24.el7", [("groupadd", "src/groupadd.c"), ("useradd", "src/useradd.c")],
               "tag 4.1.5.1 (shadow-maint/shadow); src/useradd.c and src/groupadd.c: their getopt_long strings (useradd's with and without WITH_SELINUX) and long_options[]."),
}

# openssl 1.0.2k as el7 builds it: openssl-1.0.2k-8.el7 is 7.4.1708's (see the list's header for where that was read).
OPENSSL_TAG, OPENSSL_COMMIT = "openssl-1.0.2k-8.el7", "1abac814b55db5157dd745e6611c276043b23768"
# Configure's %disabled defaults at 1.0.2k that the spec's Configure line does not enable, plus its no-* options
# (both checked below); each becomes OPENSSL_NO_<NAME>.
OPENSSL_ENABLED = ["zlib", "sctp", "camellia", "seed", "tlsext", "rfc3779", "cms", "md2", "rc5", "shared", "ec_nistp_64_gcc_128"]
OPENSSL_NO = ["mdc2", "ec2m", "gost", "srp"]
# The subcommands a script may call: the list holds every FUNC_TYPE_GENERAL program of apps/progs.h.
OPENSSL_SHARED = {  # helper in apps/ -> (file, function): options it parses for the apps that call it
    "args_verify": ("apps/apps.c", "int args_verify("),
    "args_excert": ("apps/s_cb.c", "int args_excert("),
}

def cpp(src, disabled):
    """Drops the `#ifndef OPENSSL_NO_X` (and `#if !defined(OPENSSL_NO_X) && ...`) blocks whose X the build disables,
    keeping their `#else`; every other condition keeps both branches (the list may hold more, never less)."""
    out, stack = [], []  # stack: (this branch kept, condition known)
    def known(cond):
        cond = cond.strip()
        m = re.fullmatch(r'ifndef\s+OPENSSL_NO_(\w+)', cond)
        if m:
            return m.group(1) not in disabled
        m = re.fullmatch(r'ifdef\s+OPENSSL_NO_(\w+)', cond)
        if m:
            return m.group(1) in disabled
        m = re.fullmatch(r'if\s+(.*)', cond)
        if m:
            terms = [t.strip() for t in m.group(1).split("&&")]
            if "||" not in m.group(1) and any(re.fullmatch(r'!\s*defined\s*\(?\s*OPENSSL_NO_(\w+)\s*\)?', t) for t in terms):
                for t in terms:
                    n = re.fullmatch(r'!\s*defined\s*\(?\s*OPENSSL_NO_(\w+)\s*\)?', t)
                    if n and n.group(1) in disabled:
                        return False
        return None
    for line in src.split("\n"):
        d = re.match(r'\s*#\s*(\w+)(.*)', line)
        if d and d.group(1) in ("if", "ifdef", "ifndef"):
            k = known(d.group(1) + " " + d.group(2).split("/*")[0])
            stack.append((k is not False, k is not None))
            continue
        if d and d.group(1) in ("else", "elif"):
            kept, isknown = stack.pop()
            stack.append(((not kept) if isknown and d.group(1) == "else" else True, isknown and d.group(1) == "else"))
            continue
        if d and d.group(1) == "endif":
            stack.pop()
            continue
        if all(k for k, _ in stack):
            out.append(line)
    return "\n".join(out)

def openssl_options(code):
    """`strcmp(ARG, "-name")` in an app's option loop; it takes an argument when its branch steps argv on
    (`--argc`, `args++`, `argv[++i]`) before the next comparison."""
    out = []
    ms = list(re.finditer(r'strcmp\s*\(\s*[*\w\[\]]+\s*,\s*"(-[^"]+)"\s*\)', code))
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else min(len(code), m.end() + 300)
        # The branch up to its first `else` (the next option, or the loop's own end).
        branch = re.split(r'\belse\b', code[m.end():end])[0]
        arg = re.search(r'\bargn\b|--\s*argc|argc\s*--|\+\+\s*argv\b|\bargs\s*\+\+|\+\+\s*args\b|argv\s*\[\s*\+\+\s*i\s*\]|\(\s*\*\s*pargs\s*\)\s*\+\+|\*\s*pargs\s*\+=', branch)
        out.append(f"{m.group(1)} ARG" if arg else m.group(1))
    return out

def openssl_lists(git):
    rev = OPENSSL_TAG
    if commit(git, rev) != OPENSSL_COMMIT:
        sys.exit(f"{rev} is not {OPENSSL_COMMIT}")
    import atexit, os, shutil, tempfile
    text_of = lambda p: open(p, encoding="utf-8", errors="replace").read()
    tmp = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, tmp, True)
    subprocess.run(f"git --git-dir '{git}' archive {rev} | tar -x -C '{tmp}'", shell=True, check=True)
    spec = text_of(os.path.join(tmp, "openssl.spec"))
    if not re.search(r'^Version:\s*1\.0\.2k$', spec, re.M) or not re.search(r'^Release:\s*8%\{\?dist\}$', spec, re.M):
        sys.exit("openssl.spec: not 1.0.2k release 8")
    src = os.path.join(tmp, "src")
    if "OpenSSL 1.0.2k 26 Jan 2017" not in text_of(os.path.join(src, "README")):
        sys.exit("src/README: not OpenSSL 1.0.2k")
    # hobble-openssl empties crypto/ files and edits headers: no apps/*.c.
    hobble = text_of(os.path.join(tmp, "hobble-openssl"))
    if re.search(r'find\s+[^`]*apps[^`]*-name\s+"\*\.c"', hobble) or "apps/" in hobble:
        sys.exit("hobble-openssl touches apps/*.c: read the hobbled files instead")
    configure = re.search(r'^\./Configure \\\n((?:.*\\\n)*.*)$', spec, re.M).group(1)
    for o in OPENSSL_ENABLED:
        if not re.search(r'(?:^|\s)(?:enable-)?' + re.escape(o) + r'(?:\s|$)', configure) and not re.search(r'sslflags=enable-' + re.escape(o) + r'\b', spec):
            sys.exit(f"openssl.spec: Configure does not enable {o}")
    for o in OPENSSL_NO:
        if f"no-{o}" not in configure:
            sys.exit(f"openssl.spec: Configure has no no-{o}")
    confsrc = text_of(os.path.join(src, "Configure"))
    defaults = re.findall(r'^\s*"([\w-]+)"\s*=>\s*"(?:default|experimental)"', confsrc[confsrc.index("my %disabled = ("):], re.M)
    defaults = defaults[:defaults.index("zlib-dynamic") + 1]
    disabled = sorted({d.upper().replace("-", "_") for d in defaults if d not in OPENSSL_ENABLED} | {o.upper() for o in OPENSSL_NO})
    # %prep: hobble-openssl again (a no-op on the hobbled tarball; it touches no apps/*.c, checked above), the two
    # sources copied into crypto/ec/, then every patch in %prep order; note which touch apps/ or ssl/ssl_conf.c.
    if "cp %{SOURCE12} %{SOURCE13} crypto/ec/" not in spec:
        sys.exit("openssl.spec: %prep no longer copies SOURCE12 and SOURCE13 into crypto/ec/")
    for f in ["ec_curve.c", "ectest.c"]:
        shutil.copy(os.path.join(tmp, f), os.path.join(src, "crypto/ec", f))
    appsdir = os.path.join(src, "apps")
    pristine = {f: text_of(os.path.join(appsdir, f)) for f in os.listdir(appsdir) if f.endswith(".c")}
    numbers = re.findall(r'^%patch(\d+)\s+-p1\b', spec, re.M)
    files = dict(re.findall(r'^Patch(\d+):\s*(\S+)', spec, re.M))
    apps_patches = []
    for n in numbers:
        text = text_of(os.path.join(tmp, files[n]))
        r = subprocess.run(["patch", "-p1", "-s", "-f", "-d", src], input=text, text=True, capture_output=True)
        if r.returncode != 0:
            sys.exit(f"{files[n]} does not apply: {r.stdout}{r.stderr}")
        touched = re.findall(r'^\+\+\+ [^/\s]+/(\S+)', text, re.M)
        if any(t.startswith("apps/") or t == "ssl/ssl_conf.c" for t in touched):
            apps_patches.append(files[n])
    read = lambda p: cpp(text_of(os.path.join(src, p)), set(disabled))
    # What the patches changed in the apps' own option loops, as the header says.
    changed = {}
    for f, before in sorted(pristine.items()):
        old, new = set(openssl_options(cpp(before, set(disabled)))), set(openssl_options(read("apps/" + f)))
        if old != new:
            changed[f] = (sorted(new - old), sorted(old - new))
    expected = {"genrsa.c": (["-x931"], []), "s_client.c": (["-krb5svc ARG", "-name ARG", "-xmpphost ARG"], []),
                "s_server.c": (["-keytab ARG", "-krb5svc ARG"], [])}
    if changed != expected:
        sys.exit(f"the patches change these apps' options (added, removed): {changed}, not {expected}")
    progs = read("apps/progs.h")
    general = re.findall(r'\{\s*FUNC_TYPE_GENERAL\s*,\s*"([\w-]+)"\s*,\s*(\w+)\s*\}', progs)
    sources = {}
    for f in sorted(os.listdir(os.path.join(src, "apps"))):
        if f.endswith(".c"):
            m = re.search(r'^#\s*define\s+PROG\s+(\w+)', text_of(os.path.join(src, "apps", f)), re.M)
            if m:
                sources[m.group(1)] = "apps/" + f
    shared = {}
    for helper, (path, start) in OPENSSL_SHARED.items():
        body = read(path)
        body = body[body.index(start):]
        shared[helper] = openssl_options(body[:body.index("\n}\n")])
    conf = read("ssl/ssl_conf.c")
    table = conf[conf.index("static const ssl_conf_cmd_tbl ssl_conf_cmds[]"):]
    conf_args = ["-" + c + " ARG" for c in re.findall(r'SSL_CONF_CMD(?:_STRING)?\s*\(\s*\w+\s*,\s*"(\w+)"', table[:table.index("};")])]
    single = conf[conf.index("ssl_option_single[] = {"):]
    single = re.findall(r'SSL_FLAG_TBL(_SRV|_CLI|_INV|_SRV_INV|_CERT)?\s*\(\s*"(\w+)"', single[:single.index("};")])
    if not general or not conf_args or not single or not all(shared.values()):
        sys.exit("openssl: progs.h, ssl_conf.c or the shared option parsers not read")
    # Digest and cipher names EVP_get_*byname finds: crypto/evp/c_alld.c and c_allc.c add them (EVP_add_digest adds the
    # short and long names of the digest's NID and of its signature NID, as crypto/evp/names.c does).
    objs = text_of(os.path.join(src, "crypto/objects/obj_mac.h"))
    def obj(kind, nid):
        m = re.search(r'#define\s+' + kind + '_' + re.escape(nid) + r'\s+"([^"]+)"', objs)
        return m.group(1) if m else None
    mds = {}
    evp = os.path.join(src, "crypto/evp")
    for f in sorted(os.listdir(evp)):
        if f.startswith("m_") and f.endswith(".c"):
            t = read("crypto/evp/" + f)
            structs = dict(re.findall(r'static\s+const\s+EVP_MD\s+(\w+)\s*=\s*\{\s*NID_(\w+)\s*,\s*(?:NID_)?(\w+)', t) and
                           [(s, (a, b)) for s, a, b in re.findall(r'static\s+const\s+EVP_MD\s+(\w+)\s*=\s*\{\s*NID_(\w+)\s*,\s*(?:NID_)?(\w+)', t)])
            for fn, st in re.findall(r'const\s+EVP_MD\s*\*\s*(EVP_\w+)\s*\(\s*void\s*\)\s*\{\s*return\s*\(?\s*&\s*(\w+)', t):
                if st in structs:
                    mds[fn] = structs[st]
    digests, ciphers = [], []
    alld = read("crypto/evp/c_alld.c")
    for fn in re.findall(r'EVP_add_digest\s*\(\s*(EVP_\w+)\s*\(\s*\)\s*\)', alld):
        if fn not in mds:
            sys.exit(f"c_alld.c: {fn} not found in crypto/evp/m_*.c")
        for nid in mds[fn]:
            digests += [n for n in (obj("SN", nid), obj("LN", nid)) if n]
    for _, alias in re.findall(r'EVP_add_digest_alias\s*\(\s*(\w+)\s*,\s*("[^"]+"|\w+)\s*\)', alld):
        digests.append(alias.strip('"') if alias.startswith('"') else obj("SN", alias[3:]) if alias.startswith("SN_") else obj("LN", alias[3:]))
    allc = read("crypto/evp/c_allc.c")
    missing = []
    # crypto/evp/evp.h names some ciphers by #define (`# define EVP_des_cfb EVP_des_cfb64`).
    evph = dict(re.findall(r'#\s*define\s+EVP_(\w+)\s+EVP_(\w+)\s*$', text_of(os.path.join(src, "crypto/evp/evp.h")), re.M))
    for fn in dict.fromkeys(re.findall(r'EVP_add_cipher\s*\(\s*EVP_(\w+)\s*\(\s*\)\s*\)', allc)):
        fn = evph.get(fn, fn)
        names = [n for n in (obj("SN", fn), obj("LN", fn)) if n]
        if not names:
            missing.append(fn)
        ciphers += names
    for _, alias in re.findall(r'EVP_add_cipher_alias\s*\(\s*(\w+)\s*,\s*("[^"]+"|\w+)\s*\)', allc):
        ciphers.append(alias.strip('"') if alias.startswith('"') else obj("SN", alias[3:]) if alias.startswith("SN_") else obj("LN", alias[3:]))
    if None in digests or None in ciphers or not digests or not ciphers:
        sys.exit("openssl: a digest or cipher name not found in obj_mac.h")
    # The changelog's first entry of this build and of the next el7 build in the archive.
    top = lambda t: re.search(r'^%changelog\n\* (\w+ \w+ \d+ \d+)', show(git, t, "openssl.spec"), re.M).group(1)
    tags = sorted((t for t in subprocess.run(["git", "--git-dir", git, "tag", "-l", "openssl-1.0.2k-*.el7*"], check=True, capture_output=True, text=True).stdout.split()
                   if not t.endswith(".src.rpm")), key=lambda t: [int(x) for x in re.findall(r'\d+', t.split("1.0.2k-")[1])])
    next_tag = tags[tags.index(rev) + 1]
    top8, top_next = top(rev), top(next_tag)
    if int(top_next.split()[3]) < 2017 or (top_next.endswith("2017") and top_next.split()[1] not in ("Oct", "Nov", "Dec")):
        sys.exit(f"{next_tag}: changelog {top_next}, not after 7.4.1708")
    lines = [
        f"# openssl 1.0.2k as CentOS 7.4 builds it (openssl-1.0.2k-8.el7), read from eurolinux-enterprise-linux-sources/openssl",
        f"# (a RHEL 7 rebuild's import of the source rpm) tag {rev}, commit {OPENSSL_COMMIT}: openssl.spec Version 1.0.2k",
        "# Release 8; src/ is its Source0, openssl-1.0.2k-hobbled.tar.xz, unpacked (src/README \"OpenSSL 1.0.2k 26 Jan 2017\"):",
        "# upstream 1.0.2k's apps/*.c, since hobble-openssl empties only crypto/ files and edits headers. Every patch is applied",
        "# in the spec's %prep order, after its copy of ec_curve.c and ectest.c into crypto/ec/ (all apply); those touching",
        f"# apps/ or ssl/ssl_conf.c: {', '.join(apps_patches)}.",
        "# The options they change (checked against the unpatched files): openssl-1.0.2a-rsa-x931.patch adds genrsa -x931; openssl-1.0.2j-krb5keytab.patch",
        "# adds s_client -krb5svc and s_server -krb5svc/-keytab; openssl-1.0.2k-starttls.patch adds s_client -xmpphost and",
        "# -name (and starttls protocols, which are arguments); the rest change help texts, defaults or behaviour",
        "# (openssl-1.0.2a-apps-dgst.patch: help and man texts that point to `openssl dgst -h` for the digests;",
        "# openssl-1.0.2k-req-x509.patch: req -x509 with -in signs that request instead of making a new one).",
        "# Per subcommand (apps/progs.h FUNC_TYPE_GENERAL; apps/*.c `#define PROG`): every `strcmp(arg, \"-name\")` of its",
        "# file, `ARG` when the branch steps argv on; verify, s_client, s_server, smime, cms, ocsp add args_verify()",
        "# (apps/apps.c); s_client and s_server add args_excert() (apps/s_cb.c) and, through args_ssl(), SSL_CONF_cmd_argv()",
        "# (ssl/ssl_conf.c ssl_conf_cmds[] cmdline names and ssl_option_single[], _SRV entries only for s_server, _CLI only",
        f"# for s_client). Blocks under `#ifndef OPENSSL_NO_X` are dropped for X the build disables ({', '.join(disabled)}:",
        "# Configure's default-disabled set at 1.0.2k minus what the spec's Configure line enables, plus its no-* options);",
        "# other #if branches are all kept. -DIGEST / -CIPHER: the subcommand takes any `openssl (digest)` / `openssl",
        "# (cipher)` name as an option (EVP_get_digestbyname(argv+1) in dgst, req, x509, ca, ...; EVP_get_cipherbyname in",
        "# rsa, ec, genrsa, ...): the names crypto/evp/c_alld.c and c_allc.c add, looked up in crypto/objects/obj_mac.h.",
        "# Digest- and cipher-named commands (`openssl sha256`) are not listed: a script calling one fails the lint.",
        "# The el7 NEVRA: a yum log on a host with openssh-7.4p1-13.el7_4 and bash-4.2.46-29.el7_4 (7.4 z-streams) prints",
        "# \"Package 1:openssl-1.0.2k-8.el7.x86_64 already installed and latest version\" (search-tool file id 44039010278);",
        f"# this build's spec changelog starts {top8}, the next el7 build's in that archive, {next_tag}, {top_next}.",
        "# Generated by scripts/el7-options.py (`openssl SUBCOMMAND<TAB>-name`, ` ARG` when it takes an argument).",
    ]
    if missing:
        lines.append(f"# Ciphers c_allc.c adds with no SN_/LN_ of that name in obj_mac.h (not listed, so a script naming one fails the lint): {', '.join(missing)}.")
    for name, fn in general:
        if fn not in sources:
            sys.exit(f"progs.h: {name} ({fn}) has no apps/*.c with #define PROG {fn}")
        code = read(sources[fn])
        opts = openssl_options(code)
        if re.search(r'EVP_get_digestbyname\s*\(\s*(?:\*argv\s*\+\s*1|&\s*\(\s*\(\s*\*argv\s*\)\s*\[\s*1\s*\]\s*\)|\*args\s*\+\s*1|&\s*\(\s*\*args\s*\)\s*\[\s*1\s*\])', code):
            opts.append("-DIGEST")
        if re.search(r'EVP_get_cipherbyname\s*\(\s*(?:\*argv\s*\+\s*1|&\s*\(\s*argv\s*\[\s*0\s*\]\s*\[\s*1\s*\]\s*\)|&\s*\(\s*\(\s*\*argv\s*\)\s*\[\s*1\s*\]\s*\)|\*args\s*\+\s*1|&\s*\(\s*\*args\s*\)\s*\[\s*1\s*\])', code):
            opts.append("-CIPHER")
        for helper in shared:
            if re.search(r'\b' + helper + r'\s*\(', code):
                opts += shared[helper]
        if re.search(r'\bargs_ssl\s*\(', code):
            opts += conf_args + ["-" + n for kind, n in single if kind not in ({"_SRV", "_SRV_INV"} if name == "s_client" else {"_CLI"})]
        if not opts and name != "version":
            opts = []
        lines += [f"openssl {name}\t{o}" for o in dict.fromkeys(opts)] or [f"openssl {name}\t(none)"]
    lines += [f"openssl (digest)\t{d}" for d in dict.fromkeys(digests)]
    lines += [f"openssl (cipher)\t{c}" for c in dict.fromkeys(ciphers)]
    return lines

def main():
    what, git = sys.argv[1], sys.argv[2]
    lines = []
    if what == "coreutils":
        rev = "v8.22"
        lines.append(f"# coreutils 8.22 (CentOS 7.4: coreutils-8.22-18.el7), read from the upstream git tag {rev}, commit {commit(git, rev)}")
        lines.append("# getopt_long short-option strings and struct option tables of each tool's src/*.c (sha256sum: src/md5sum.c).")
        lines.append("# Generated by scripts/el7-options.py; one `tool<TAB>option` per line; `-x ARG` takes an argument, `-x OPTARG` an attached optional one.")
        for tool, path in sorted(COREUTILS.items()):
            src = show(git, rev, path)
            opts = getopt_tool(src)
            if not opts and "parse_long_options" in src:
                opts = ["--help", "--version"]  # parse_long_options: only these two
            if not opts:
                sys.exit(f"no options found for {tool} in {path}")
            for o in dict.fromkeys(opts):
                lines.append(f"{tool}\t{o}")
    elif what == "iproute":
        rev = "v3.10.0"
        lines.append(f"# iproute 3.10.0 (CentOS 7.4: iproute-3.10.0-87.el7), read from the upstream git tag {rev}, commit {commit(git, rev)}")
        lines.append("# ss: misc/ss.c (getopt_long string and long_opts). ip: ip/ip.c main() matches its global options by hand")
        lines.append("# (matches(opt, \"-family\") etc.: any unambiguous prefix); listed here as written there.")
        src = show(git, rev, "misc/ss.c")
        for o in dict.fromkeys(getopt_tool(src)):
            lines.append(f"ss\t{o}")
        ip = show(git, rev, "ip/ip.c")
        for o in dict.fromkeys(re.findall(r'matches\s*\(\s*opt\s*,\s*"(-[^"]+)"\s*\)', ip) + re.findall(r'strcmp\s*\(\s*opt\s*,\s*"(-[^"]+)"\s*\)', ip)):
            lines.append(f"ip\t{o}")
    elif what == "rpm":
        rev = "rpm-4.11.3-release"
        lines.append(f"# rpm 4.11.3 (CentOS 7.4: rpm-4.11.3-25.el7), read from the upstream git tag {rev}, commit {commit(git, rev)}")
        lines.append("# the popt tables rpm (rpmqv.c, IAM_RPMQV/RPMEIU) includes: lib/poptALL.c, lib/poptI.c, lib/poptQV.c, rpmqv.c,")
        lines.append("# plus the `rpm alias`/`rpm exec` entries of rpmpopt.in (e.g. --import runs rpmkeys --import); POPT_AUTOHELP adds --help/--usage/-?.")
        opts = []
        for path in ["rpmqv.c", "lib/poptALL.c", "lib/poptI.c", "lib/poptQV.c"]:
            src = show(git, rev, path)
            for name, short, argf in re.findall(r'\{\s*"([\w-]+)"\s*,\s*\'(\\0|.)\'\s*,\s*([^,]*),', src):
                takes = "POPT_ARG_STRING" in argf or "POPT_ARG_INT" in argf or "POPT_ARG_LONG" in argf
                opts.append("--" + name)
                if short != "\\0":
                    opts.append(f"-{short} ARG" if takes else f"-{short}")
        for name in re.findall(r'^rpm\s+(?:alias|exec)\s+--([\w-]+)', show(git, rev, "rpmpopt.in"), re.M):
            opts.append("--" + name)
        opts += ["--help", "--usage", "-?"]
        lines += [f"rpm\t{o}" for o in dict.fromkeys(opts)]
    elif what == "yum":
        rev = "02a6d7ad"
        lines.append(f"# yum 3.4.3 (CentOS 7.4: yum-3.4.3-154.el7), read from upstream git at the commit \"Bump version to 3.4.3\", {commit(git, rev)}")
        lines.append("# (the project has no release tags): cli.py YumOptionParser add_option calls (optparse).")
        src = show(git, rev, "cli.py")
        opts = []
        for call in re.findall(r'add_option\((.*?)\)\s*\n', src, re.S):
            names = re.findall(r'"(-[^"]*)"|\'(-[^\']*)\'', call.split("help=")[0].split("action=")[0].split("dest=")[0])
            names = [a or b for a, b in names]
            flag = re.search(r'action\s*=\s*["\'](store_true|store_false|count|help|version|store_const)["\']', call) or ("callback" in call and "type=" not in call)
            for n in names:
                opts.append(n if (flag or n.startswith("--")) else f"{n} ARG")
        lines += [f"yum\t{o}" for o in dict.fromkeys(opts)]
    elif what == "curl":
        rev = "curl-7_29_0"
        lines.append(f"# curl 7.29.0 (CentOS 7.4: curl-7.29.0-42.el7), read from the upstream git tag {rev}, commit {commit(git, rev)}")
        lines.append("# src/tool_getparam.c aliases[]: {letter, long name, takes argument}; letters starting with * or $ have no short form.")
        src = show(git, rev, "src/tool_getparam.c")
        table = src[src.index("aliases[]"):]
        table = table[:table.index("};")]
        opts = []
        for letter, name, arg in re.findall(r'\{\s*"([^"]*)"\s*,\s*"([^"]*)"\s*,\s*(TRUE|FALSE)\s*\}', table):
            opts.append("--" + name)
            if len(letter) == 1 and letter not in "*$":
                opts.append(f"-{letter} ARG" if arg == "TRUE" else f"-{letter}")
        lines += [f"curl\t{o}" for o in dict.fromkeys(opts)]
    elif what == "systemctl":
        rev = "c838a6c6ddfdba92d35fd73678278142ee043de8"
        lines.append(f"# systemctl of systemd 219 (CentOS 7.4: systemd-219-42.el7), read from redhat-plumbers/systemd-rhel7 branch rhel-7.4, commit {commit(git, rev)}")
        lines.append("# src/systemctl/systemctl.c systemctl_parse_argv(): its getopt_long string and options[] table.")
        src = show(git, rev, "src/systemctl/systemctl.c")
        f = src[src.index("static int systemctl_parse_argv("):]
        f = f[:f.index("\n}\n")]
        lines += [f"systemctl\t{o}" for o in dict.fromkeys(getopt_tool(f))]
    elif what == "util-linux":
        rev = "v2.23.2"
        lines.append(f"# flock of util-linux 2.23.2 (CentOS 7.4 ships util-linux 2.23.2), read from the upstream git tag {rev}, commit {commit(git, rev)}")
        lines.append("# sys-utils/flock.c main(): its getopt_long string (\"+sexnouw:E:hV?\": options end at the first operand) and long_options[].")
        lines += [f"flock\t{o}" for o in dict.fromkeys(getopt_tool(show(git, rev, "sys-utils/flock.c")))]
    elif what in SIMPLE:
        rev, version, el7, paths, note = SIMPLE[what]
        lines.append(f"# {version} (CentOS 7.4: {el7}), read from upstream git at {rev}, commit {commit(git, rev)}")
        lines.append(f"# {note}")
        lines.append("# The el7 NEVRA: a public CentOS 7.4 package set that lists it beside centos-release-7-4.1708.el7.centos (weldr bdcs test script).")
        lines.append("# Generated by scripts/el7-options.py; one `tool<TAB>option` per line; `-x ARG` takes an argument, `-x OPTARG` an attached optional one.")
        for tool, path in paths:
            src = show(git, rev, path)
            opts = getopt_tool(src)
            if not opts:
                sys.exit(f"no options found for {tool} in {path}")
            lines += [f"{tool}\t{o}" for o in dict.fromkeys(opts)]
    elif what == "selinux":
        rev = "libselinux-2.5"
        lines.append(f"# getenforce of libselinux 2.5 (CentOS 7.4: libselinux-utils-2.5-11.el7), read from SELinuxProject/selinux tag {rev}, commit {commit(git, rev)}")
        lines.append("# libselinux/utils/getenforce.c main(): it parses no options at all (argc and argv are `unused`; an argument is ignored).")
        src = show(git, rev, "libselinux/utils/getenforce.c")
        if "getopt" in src or "argv __attribute__ ((unused))" not in src:
            sys.exit("getenforce.c: expected no getopt and an unused argv")
        lines.append("getenforce\t(none)")
    elif what == "bash":
        rev = "f281b8f4f8936b2713966274d9f8508a9f0910e4"
        lines.append(f"# bash 4.2 invoked as sh or bash (CentOS 7.4: bash-4.2.46-28.el7), read from gnu-mirror-unofficial/bash at \"Bash-4.2 patch 45\", commit {commit(git, rev)}")
        lines.append("# (patchlevel.h PATCHLEVEL 45, the newest 4.2 patch in the mirror; patches do not touch option parsing). shell.c: long_args[]")
        lines.append("# (only before the short options) and parse_shell_options() (-c -l -s -D; -o and -O take the next argument);")
        lines.append("# flags.c: shell_flags[] (the `set` letters, also options at invocation; `#if 0` entries left out). Options end at the")
        lines.append("# first operand (the script, or -c's command string). The el7 NEVRA: as for the other lists (weldr bdcs test script).")
        shell, flags = show(git, rev, "shell.c"), show(git, rev, "flags.c")
        flags = re.sub(r'^#if 0\n.*?^#endif\n', '', flags, flags=re.M | re.S)
        longs = re.findall(r'\{\s*"([\w-]+)"\s*,\s*(?:Int|Charp)', shell[shell.index("long_args[] = {"):])
        parse = shell[shell.index("\nparse_shell_options"):]
        parse = parse[:parse.index("\n}\n")]
        explicit = re.findall(r"case '(\w)':", parse)
        table = flags[flags.index("shell_flags[] = {"):]
        letters = re.findall(r"\{\s*'(\w)'\s*,", table[:table.index("};")])
        if not longs or not explicit or not letters:
            sys.exit("bash: long_args, parse_shell_options or shell_flags not found")
        opts = ["+"] + [f"-{c} ARG" if c in "oO" else f"-{c}" for c in explicit] + [f"-{c}" for c in letters] + ["--" + n for n in longs]
        for tool in ["bash", "sh"]:
            lines += [f"{tool}\t{o}" for o in dict.fromkeys(opts)]
    elif what == "hostname":
        rev = "hostname-3.13-3.el7"
        lines.append(f"# hostname 3.13 (CentOS 7.4: hostname-3.13-3.el7), read from eurolinux-enterprise-linux-sources/hostname tag {rev}, commit {commit(git, rev)}")
        lines.append("# (a RHEL 7 rebuild's import of that source rpm: hostname.spec Version 3.13 Release 3, Source0 Debian's hostname_3.13.tar.gz,")
        lines.append("# unpacked in src/, VERSION \"3.13\"). src/hostname.c main(): its getopt_long string and long_options[]. The one patch,")
        lines.append("# hostname-rh.patch, changes only hostname.1 and the Makefile (checked: it names no .c file). Debian 3.13's changelog:")
        lines.append("# \"Finally completely remove verbose option\", so there is no -v. The el7 NEVRA: its only el7 builds are tagged")
        lines.append("# 3.13-1.el7, 3.13-3.el7 and 3.13-3.el7_7.1 (2020) there, so 7.4 had 3.13-3.el7; all three have the same src/hostname.c.")
        src = show(git, rev, "src/hostname.c")
        if '#define VERSION "3.13"' not in src:
            sys.exit("src/hostname.c: not version 3.13")
        spec = show(git, rev, "hostname.spec")
        patches = re.findall(r'^Patch\d*:\s*(\S+)', spec, re.M)
        for p in patches:
            if re.search(r'^\+\+\+ \S+\.c\b', show(git, rev, p), re.M):
                sys.exit(f"{p} changes C source: read the patched file instead")
        if patches != ["hostname-rh.patch"]:
            sys.exit(f"hostname.spec: patches {patches}, expected only hostname-rh.patch")
        lines += [f"hostname\t{o}" for o in dict.fromkeys(getopt_tool(src))]
    elif what == "xfsprogs":
        rev, el7git = "v4.5.0", sys.argv[3]
        blob = subprocess.run(["git", "--git-dir", git, "rev-parse", f"{rev}:growfs/xfs_info.sh"], check=True, capture_output=True, text=True).stdout.strip()
        el7 = subprocess.run(["git", "--git-dir", el7git, "tag", "-l", "xfsprogs-4.5.0-*.el7*"], check=True, capture_output=True, text=True).stdout.split()
        el7 = [t for t in el7 if not t.endswith(".src.rpm")]
        for t in el7:
            theirs = subprocess.run(["git", "--git-dir", el7git, "rev-parse", f"{t}:src/growfs/xfs_info.sh"], check=True, capture_output=True, text=True).stdout.strip()
            grep = subprocess.run(["git", "--git-dir", el7git, "grep", "-l", "growfs", t, "--", "*.patch"], capture_output=True, text=True).stdout.strip()
            if theirs != blob or grep:
                sys.exit(f"{t}: xfs_info.sh differs from {rev}'s or a patch touches growfs/")
        if "xfsprogs-4.5.0-12.el7" not in el7:
            sys.exit("no xfsprogs-4.5.0-12.el7 tag in the el7 sources")
        lines.append(f"# xfs_info of xfsprogs 4.5.0 (CentOS 7.4: xfsprogs-4.5.0-12.el7), read from xfsprogs-dev tag {rev}, commit {commit(git, rev)}")
        lines.append("# (the same commit in the djwong/xfsprogs, tytso/xfsprogs and johnpgarry/xfsprogs-dev mirrors). growfs/xfs_info.sh is a")
        lines.append("# shell script: `getopts \"t:V\"` (shell getopts: options end at the first operand). The el7 builds carry it unchanged:")
        lines.append(f"# eurolinux-enterprise-linux-sources/xfsprogs tags {', '.join(el7)} have the same blob {blob}")
        lines.append("# in src/growfs/ and no patch touching growfs/ (checked by scripts/el7-options.py). That 7.4 had 4.5.0-12.el7 is inferred:")
        lines.append("# its spec changelog ends 2017-05-09, before 7.4.1708, and the next entry, 4.5.0-13, is of 2017-10-06, after it. Every")
        lines.append("# el7 4.5.0 build there has this xfs_info, so the list holds whichever 4.5.0 build a 7.4 host has.")
        src = show(git, rev, "growfs/xfs_info.sh")
        m = re.search(r'getopts\s+"([^"]+)"', src)
        if not m:
            sys.exit("xfs_info.sh: no getopts string")
        lines += [f"xfs_info\t{o}" for o in ["+"] + short_opts(m.group(1))]
    elif what == "getent":
        rev, el7git = "glibc-2.17", sys.argv[3]
        blobs = {p: subprocess.run(["git", "--git-dir", git, "rev-parse", f"{rev}:{p}"], check=True, capture_output=True, text=True).stdout.strip()
                 for p in ["nss/getent.c", "argp/argp-parse.c"]}
        el7 = [t for t in subprocess.run(["git", "--git-dir", el7git, "tag", "-l", "glibc-2.17-*.el7*"], check=True, capture_output=True, text=True).stdout.split()
               if not t.endswith(".src.rpm")]
        if not el7:
            sys.exit("no glibc-2.17 el7 tags in the el7 sources")
        for t in el7:
            spec = show(el7git, t, "glibc.spec")
            if "%define glibcsrcdir glibc-2.17-c758a686" not in spec:
                sys.exit(f"{t}: its source is not glibc-2.17-c758a686")
            for p, b in blobs.items():
                theirs = subprocess.run(["git", "--git-dir", el7git, "rev-parse", f"{t}:src/{p}"], check=True, capture_output=True, text=True).stdout.strip()
                name = p.split("/")[1]
                grep = subprocess.run(["git", "--git-dir", el7git, "grep", "-l", name, t, "--", "*.patch"], capture_output=True, text=True).stdout.strip()
                if theirs != b or grep:
                    sys.exit(f"{t}: {p} differs from {rev}'s or a patch names it")
        lines.append(f"# getent of glibc 2.17 (CentOS 7.4: glibc-2.17-196.el7), read from bminor/glibc (a mirror of sourceware glibc) tag {rev}, commit {commit(git, rev)}")
        lines.append("# nss/getent.c args_options[] (argp), plus what argp adds (argp/argp-parse.c argp_default_options[], and")
        lines.append("# argp_version_options[] because getent sets argp_program_version_hook). argp permutes: options may follow operands.")
        lines.append(f"# The el7 builds: eurolinux-enterprise-linux-sources/glibc tags {', '.join(el7)} build glibc-2.17-c758a686")
        lines.append("# (the commit of that tag) with both files unchanged and no patch naming them (checked by scripts/el7-options.py).")
        lines.append("# 7.4's 196.el7 is not among those tags: that it has no such patch either is inferred from its later builds having none.")
        opts = []
        def argp_table(src, table):
            body = src[src.index(table):]
            body = body[:body.index("};")]
            out = []
            for name, key, arg in re.findall(r'\{\s*"([\w-]+)"\s*,\s*(\'.\'|\w+)\s*,\s*(0|NULL|"[^"]*")', body):
                out.append("--" + name)
                if key.startswith("'"):
                    out.append(f"-{key[1]} ARG" if arg.startswith('"') else f"-{key[1]}")
            return out
        getent, argp = show(git, rev, "nss/getent.c"), show(git, rev, "argp/argp-parse.c")
        if "argp_program_version_hook" not in getent:
            sys.exit("getent.c: no version hook")
        opts = argp_table(getent, "args_options[]") + argp_table(argp, "argp_default_options[]") + argp_table(argp, "argp_version_options[]")
        lines += [f"getent\t{o}" for o in dict.fromkeys(opts)]
    elif what == "openssl":
        lines += openssl_lists(git)
    print("\n".join(lines))

main()
