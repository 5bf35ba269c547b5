//! Benchmark (not a test): plan a generated 1,000-host inventory in both forms and print
//! wall time per plan and the process's peak memory. Run: `cargo bench --bench plan`.

use std::fmt::Write;
use std::time::Instant;

fn yaml(n: usize) -> String {
    let mut s = String::from("all:\n  hosts:\n");
    for i in 0..n {
        let _ = writeln!(s, "    node{i:04}:\n      ansible_host: 172.16.{}.{}\n      ip: 172.16.{}.{}", i / 250, i % 250 + 1, i / 250, i % 250 + 1);
    }
    s.push_str("  children:\n    kube_control_plane:\n      hosts:\n        node0000:\n        node0001:\n        node0002:\n    etcd:\n      hosts:\n        node0000:\n        node0001:\n        node0002:\n    kube_node:\n      hosts:\n");
    for i in 3..n {
        let _ = writeln!(s, "        node{i:04}:");
    }
    s.push_str("  vars:\n    kube_pods_subnet: 10.64.0.0/14\n    kube_service_addresses: 10.233.0.0/18\n");
    s
}

fn ini(n: usize) -> String {
    let mut s = String::from("[all]\n");
    for i in 0..n {
        let _ = writeln!(s, "node{i:04} ansible_host=172.16.{}.{} ip=172.16.{}.{}", i / 250, i % 250 + 1, i / 250, i % 250 + 1);
    }
    s.push_str("[kube_control_plane]\nnode[0000:0002]\n[etcd]\nnode[0000:0002]\n[kube_node]\n");
    let _ = writeln!(s, "node[0003:{:04}]", n - 1);
    s.push_str("[all:vars]\nkube_pods_subnet=10.64.0.0/14\nkube_service_addresses=10.233.0.0/18\n");
    s
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let hosts = 1000;
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("hosts.yaml", yaml(hosts)), ("inventory.ini", ini(hosts))] {
        let p = dir.path().join(name);
        std::fs::write(&p, &text).unwrap();
        let plan = bundler::plan(&p, None).expect("generated inventory plans");
        assert_eq!(plan.hosts.len(), hosts);
        let runs = 20;
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let plan = bundler::plan(&p, None).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(plan);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "plan {hosts} hosts ({name}, {} KiB): median {:.1} ms, min {:.1} ms, max {:.1} ms over {runs} runs",
            text.len() / 1024,
            times[runs / 2],
            times[0],
            times[runs - 1]
        );
    }
    println!("peak resident memory of the benchmark process: {} KiB", peak_rss_kib());
}
