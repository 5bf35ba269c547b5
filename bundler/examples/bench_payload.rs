//! Writes the benchmark's inputs (scripts/bench.sh): upstream-layout tarballs whose binaries
//! have the real Kubernetes 1.9 sizes and compress like Go binaries (about 3:1 with gzip),
//! a pause image laid out as a registry serves it, a catalog pointing at a local server, and
//! an inventory. Usage: bench_payload DIR PORT [SCALE_PERCENT]

use std::io::Write;
use std::path::Path;

use sha2::Digest;

/// Bytes that compress roughly like a Go binary: symbol-table-like text, small integers and
/// machine-code-like noise interleaved.
fn go_like(seed: u64, len: usize, out: &mut impl Write) {
    let words: Vec<&[u8]> = [
        "runtime.",
        "k8s.io/kubernetes/pkg/",
        "github.com/golang/protobuf/",
        "sync.(*Mutex).Lock",
        "encoding/json.",
        "net/http.(*Server).",
        "reflect.Value.",
        "fmt.Sprintf",
        "errors.New",
        "go.itab.*",
        "type..eq.",
        "main.main",
        "k8s.io/apimachinery/pkg/apis/meta/v1.",
    ]
    .iter()
    .map(|s| s.as_bytes())
    .collect();
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut buf = Vec::with_capacity(1 << 20);
    let mut written = 0;
    while written < len {
        buf.clear();
        while buf.len() < (1 << 20) {
            let r = next();
            match r % 20 {
                0..=2 => {
                    for _ in 0..(8 + r % 24) {
                        buf.push(next() as u8);
                    }
                }
                3..=15 => {
                    let w = words[(r >> 8) as usize % words.len()];
                    buf.extend_from_slice(w);
                    buf.extend_from_slice(format!("{}", (r >> 20) % 512).as_bytes());
                }
                _ => buf.extend_from_slice(&[0u8; 16][..(r >> 4) as usize % 16]),
            }
        }
        let n = buf.len().min(len - written);
        out.write_all(&buf[..n]).unwrap();
        written += n;
    }
}

struct Entry {
    name: &'static str,
    version: &'static str,
    file: String,
    members: Vec<(String, usize)>,
}

fn tarball(dir: &Path, e: &Entry, scale: usize) -> String {
    let path = dir.join(&e.file);
    let f = std::fs::File::create(&path).unwrap();
    let gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::fast());
    let mut t = tar::Builder::new(gz);
    for (i, (name, mb)) in e.members.iter().enumerate() {
        let size = (mb * 1024 * 1024 * scale / 100).max(64);
        let tmp = dir.join(".member");
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
            go_like(i as u64 * 7919 + name.len() as u64, size, &mut w);
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(size as u64);
        h.set_mode(0o755);
        h.set_mtime(1_500_000_000);
        t.append_data(&mut h, name, std::fs::File::open(&tmp).unwrap()).unwrap();
        std::fs::remove_file(&tmp).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap().flush().unwrap();
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(&path).unwrap(), &mut h).unwrap();
    hex::encode(h.finalize())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(&args[1]);
    let port: u16 = args[2].parse().unwrap();
    let scale: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(100);
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let k = |n: &str| format!("kubernetes/server/bin/{n}");
    let entries = vec![
        Entry {
            name: "kubernetes-server",
            version: "v1.9.11",
            file: "kubernetes-server-linux-amd64.tar.gz".into(),
            members: vec![
                (k("kube-apiserver"), 200),
                (k("kube-controller-manager"), 130),
                (k("kubelet"), 140),
                (k("kube-scheduler"), 55),
                (k("kube-proxy"), 50),
                (k("kubectl"), 65),
            ],
        },
        Entry {
            name: "etcd",
            version: "v3.0.17",
            file: "etcd-v3.0.17-linux-amd64.tar.gz".into(),
            members: vec![("etcd-v3.0.17-linux-amd64/etcd".into(), 20), ("etcd-v3.0.17-linux-amd64/etcdctl".into(), 20)],
        },
        Entry {
            name: "flannel",
            version: "v0.10.0",
            file: "flannel-v0.10.0-linux-amd64.tar.gz".into(),
            members: vec![("flanneld".into(), 35), ("mk-docker-opts.sh".into(), 0)],
        },
        Entry {
            name: "docker",
            version: "17.12.1-ce",
            file: "docker-17.12.1-ce.tgz".into(),
            members: [
                "docker",
                "dockerd",
                "docker-containerd",
                "docker-containerd-ctr",
                "docker-containerd-shim",
                "docker-runc",
                "docker-init",
                "docker-proxy",
            ]
            .iter()
            .zip([18, 40, 15, 10, 5, 8, 1, 3])
            .map(|(n, mb)| (format!("docker/{n}"), mb))
            .collect(),
        },
        Entry {
            name: "cni-plugins",
            version: "v0.6.0",
            file: "cni-plugins-amd64-v0.6.0.tgz".into(),
            members: ["bridge", "host-local", "loopback", "portmap", "flannel", "dhcp", "ipvlan", "macvlan", "ptp", "sample", "tuning", "vlan"]
                .iter()
                .map(|n| (format!("./{n}"), 3))
                .collect(),
        },
    ];
    let mut catalog = String::from("artifacts:\n");
    for e in &entries {
        let sum = tarball(&www, e, scale);
        catalog.push_str(&format!(
            "  - name: {}\n    version: \"{}\"\n    url: http://127.0.0.1:{port}/{}\n    sha256: {sum}\n    trust: user\n",
            e.name, e.version, e.file
        ));
    }
    // The pause image, as a registry serves it (manifest and blobs by digest).
    let layer = {
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(8);
        h.set_mode(0o755);
        t.append_data(&mut h, "pause", &b"#!pause\n"[..]).unwrap();
        let raw = t.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        (gz.finish().unwrap(), raw)
    };
    let sha = |b: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)));
    let config =
        serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(&layer.1)]}})).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": sha(&config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.0.len(), "digest": sha(&layer.0)}]}))
    .unwrap();
    let repo = www.join("v2/bench/pause");
    std::fs::create_dir_all(repo.join("manifests")).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::write(repo.join("manifests").join(sha(&manifest)), &manifest).unwrap();
    std::fs::write(repo.join("blobs").join(sha(&config)), &config).unwrap();
    std::fs::write(repo.join("blobs").join(sha(&layer.0)), &layer.0).unwrap();
    catalog.push_str(&format!(
        "  - name: pause\n    version: \"3.0\"\n    image: 127.0.0.1:{port}/bench/pause:3.0\n    digest: \"{}\"\n    trust: user\n",
        sha(&manifest)
    ));
    std::fs::write(dir.join("catalog.yaml"), catalog).unwrap();
    std::fs::write(
        dir.join("hosts.yaml"),
        "all:\n  hosts:\n    master: {ip: 192.168.0.211}\n    node01: {ip: 192.168.0.212}\n    node02: {ip: 192.168.0.213}\n  children:\n    kube_control_plane: {hosts: {master: }}\n    kube_node: {hosts: {node01: , node02: }}\n    etcd: {hosts: {master: , node01: , node02: }}\n  vars:\n    dns_mode: none\n    dashboard_enabled: false\n    monitoring_enabled: false\n    bundler_smoke_test_images: false\n",
    )
    .unwrap();
}
