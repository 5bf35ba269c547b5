//! The INI inventory reader and everything after it (groups, variables, templates, the view the
//! plan reads) on arbitrary text: it may refuse, but never panic, hang or allocate without bound.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(inv) = bundler::inventory::from_text(text, bundler::inventory::Format::Ini) {
            let _ = bundler::plan::view::view(&inv);
        }
    }
});
