//! Ansible host ranges (`node[01:10]`, `w-[a:c]`, `s[1:9:2]`, several in one pattern): any input
//! either expands to at most the host limit or is refused; never a panic, overflow or huge allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pattern) = std::str::from_utf8(data) {
        if let Ok(hosts) = bundler::inventory::expand_host_pattern(pattern) {
            assert!(hosts.len() <= bundler::inventory::MAX_HOSTS);
        }
    }
});
