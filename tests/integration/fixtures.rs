//! Fixture artifacts with the real upstream layouts (see specs/reference/upstream-pins.md),
//! small stand-in binaries inside, and a catalog that points at a test server.

use std::io::Write;

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

pub struct Fixture {
    pub name: &'static str,
    pub version: &'static str,
    pub file_name: &'static str,
    pub bytes: Vec<u8>,
}

impl Fixture {
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

/// Bytes that compress somewhat, like a binary: a deterministic xorshift stream over a small alphabet.
pub fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 61) as u8 + 32
        })
        .collect()
}

fn stand_in(name: &str, version: &str, pad: usize) -> Vec<u8> {
    let mut b = format!("#!/bin/sh\n# stand-in for {name} {version}\necho \"{name} {version}\"\nexit 0\n# ").into_bytes();
    b.extend(filler(name.len() as u64 * 31 + pad as u64, pad));
    b.push(b'\n');
    b
}

pub fn tar_gz(entries: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    {
        let mut t = tar::Builder::new(&mut gz);
        let mut dirs = std::collections::BTreeSet::new();
        for (path, data, mode) in entries {
            let mut parent = std::path::Path::new(path).parent();
            let mut chain = Vec::new();
            while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                chain.push(p.to_path_buf());
                parent = p.parent();
            }
            for d in chain.into_iter().rev() {
                if dirs.insert(d.clone()) {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o755);
                    h.set_size(0);
                    h.set_mtime(1_500_000_000);
                    t.append_data(&mut h, format!("{}/", d.display()), std::io::empty()).unwrap();
                }
            }
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            h.set_size(data.len() as u64);
            h.set_mtime(1_500_000_000);
            t.append_data(&mut h, path, &data[..]).unwrap();
        }
        t.finish().unwrap();
    }
    let mut out = gz.finish().unwrap();
    out.flush().unwrap();
    out
}

/// The five file artifacts of the default plan. `scale` multiplies the stand-in sizes.
pub fn artifacts(scale: usize) -> Vec<Fixture> {
    let bin = |dir: &str, names: &[&str], version: &str, pad: usize| -> Vec<(String, Vec<u8>, u32)> {
        names.iter().map(|n| (format!("{dir}{n}"), stand_in(n, version, pad), 0o755)).collect()
    };
    let mut k8s = bin(
        "kubernetes/server/bin/",
        &["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet", "kubectl", "kubeadm"],
        "v1.9.11",
        200_000 * scale,
    );
    k8s.push(("kubernetes/LICENSES".into(), b"Apache License 2.0 (fixture)\n".to_vec(), 0o644));
    let mut etcd = bin("etcd-v3.0.17-linux-amd64/", &["etcd", "etcdctl"], "v3.0.17", 50_000 * scale);
    etcd.push(("etcd-v3.0.17-linux-amd64/README.md".into(), b"# etcd (fixture)\n".to_vec(), 0o644));
    let mut flannel = bin("", &["flanneld", "mk-docker-opts.sh"], "v0.10.0", 40_000 * scale);
    flannel.push(("README.md".into(), b"# flannel (fixture)\n".to_vec(), 0o644));
    let docker = bin(
        "docker/",
        &["docker", "dockerd", "docker-containerd", "docker-containerd-ctr", "docker-containerd-shim", "docker-runc", "docker-init", "docker-proxy"],
        "17.12.1-ce",
        30_000 * scale,
    );
    vec![
        Fixture { name: "kubernetes-server", version: "v1.9.11", file_name: "kubernetes-server-linux-amd64.tar.gz", bytes: tar_gz(&k8s) },
        Fixture { name: "etcd", version: "v3.0.17", file_name: "etcd-v3.0.17-linux-amd64.tar.gz", bytes: tar_gz(&etcd) },
        Fixture { name: "flannel", version: "v0.10.0", file_name: "flannel-v0.10.0-linux-amd64.tar.gz", bytes: tar_gz(&flannel) },
        Fixture { name: "docker", version: "17.12.1-ce", file_name: "docker-17.12.1-ce.tgz", bytes: tar_gz(&docker) },
    ]
}

/// A catalog whose entries for the fixtures point at `base` (e.g. http://127.0.0.1:PORT/up),
/// with the OS packages as signed stand-ins in a file:// tree (see ospkgs.rs).
pub fn catalog(fixtures: &[Fixture], base: &str) -> String {
    let mut s = crate::ospkgs::fixture_catalog();
    s.push_str("artifacts:\n");
    for f in fixtures {
        s.push_str(&format!(
            "  - name: {}\n    version: \"{}\"\n    url: {}/{}\n    sha256: {}\n    license: Apache-2.0\n    trust: upstream-release-notes\n",
            f.name,
            f.version,
            base,
            f.file_name,
            f.sha256()
        ));
    }
    s
}

/// A small container image as a registry holds it: a schema 2 manifest, a config and one
/// gzip-compressed layer.
pub struct FixtureImage {
    pub name: &'static str,
    pub version: &'static str,
    pub repository: String,
    pub manifest: Vec<u8>,
    pub digest: String,
    pub config_digest: String,
    pub layer_digest: String,
    /// The uncompressed layer's digest (the config's diff_id).
    pub diff_id: String,
    pub blobs: Vec<(String, Vec<u8>)>,
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

pub fn image(name: &'static str, version: &'static str) -> FixtureImage {
    let layer_tar = {
        let mut t = tar::Builder::new(Vec::new());
        let body = format!("#!/bin/sh\n# stand-in for the {name} image\n");
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o755);
        h.set_mtime(1_500_000_000);
        t.append_data(&mut h, format!("{name}.sh"), body.as_bytes()).unwrap();
        t.into_inner().unwrap()
    };
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer_tar).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": [format!("/{name}.sh")]},
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer_tar)]},
        "history": [{"created_by": "bundler test fixture"}],
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": sha(&config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": sha(&layer)}],
    }))
    .unwrap();
    FixtureImage {
        name,
        version,
        repository: format!("fixtures/{name}"),
        digest: sha(&manifest),
        config_digest: sha(&config),
        layer_digest: sha(&layer),
        diff_id: sha(&layer_tar),
        blobs: vec![(sha(&config), config), (sha(&layer), layer)],
        manifest,
    }
}

/// The ten images of the default plan: the cluster's, monitoring's and the smoke test's.
pub fn images() -> Vec<FixtureImage> {
    vec![
        image("pause", "3.0"),
        image("kube-dns", "1.14.8"),
        image("dnsmasq-nanny", "1.14.8"),
        image("dns-sidecar", "1.14.8"),
        image("dashboard", "v1.8.3"),
        image("heapster", "v1.5.0"),
        image("influxdb", "v1.3.3"),
        image("grafana", "v4.4.3"),
        image("busybox", "1.28.4"),
        image("busybox-previous", "1.28.3"),
    ]
}

/// Serve the images the way a registry does (manifests and blobs by digest).
pub fn serve_images(server: &crate::httpd::Server, images: &[FixtureImage]) {
    for i in images {
        server.put(&format!("/v2/{}/manifests/{}", i.repository, i.digest), i.manifest.clone());
        for (d, b) in &i.blobs {
            server.put(&format!("/v2/{}/blobs/{d}", i.repository), b.clone());
        }
    }
}

/// Catalog entries for the fixture images on a registry at `host` (127.0.0.1:PORT).
pub fn image_catalog(images: &[FixtureImage], host: &str) -> String {
    images
        .iter()
        .map(|i| {
            format!(
                "  - name: {}\n    version: \"{}\"\n    image: {host}/{}:{}\n    digest: \"{}\"\n    license: Apache-2.0\n    trust: user\n",
                i.name, i.version, i.repository, i.version, i.digest
            )
        })
        .collect()
}
