//! Mutated and truncated inventories never panic: each gives a plan or an error.

use proptest::prelude::*;

use crate::util::root;

fn examples() -> Vec<(String, String)> {
    ["examples/hosts.yaml", "examples/inventory.ini"]
        .iter()
        .map(|p| (p.rsplit('/').next().unwrap().to_string(), std::fs::read_to_string(root().join(p)).unwrap()))
        .collect()
}

fn check(name: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    // Either outcome is fine; a panic fails the test.
    let _ = bundler::plan(&p, None);
}

#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, String),
    DeleteLine(usize),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let token = prop::sample::select(vec![
        ":",
        " ",
        "\n",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: ",
        "- ",
        "#",
        ";",
        "=",
        "{{ x }}",
        "\"",
        "'",
        "node[1:3]",
        "[x:children]\n",
        "~",
        "1.30",
        "\t",
    ]);
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), token).prop_map(|(i, t)| Edit::Insert(i, t.to_string())),
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let n = b.len().max(1);
        match e {
            Edit::Truncate(i) => b.truncate(i % n),
            Edit::Flip(i, x) => {
                if !b.is_empty() {
                    let i = i % b.len();
                    b[i] = *x;
                }
            }
            Edit::Insert(i, t) => {
                let i = i % n;
                let i = i.min(b.len());
                b.splice(i..i, t.bytes());
            }
            Edit::DeleteLine(i) | Edit::DuplicateLine(i) => {
                let s = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let k = i % lines.len();
                    if matches!(e, Edit::DeleteLine(_)) {
                        lines.remove(k);
                    } else {
                        lines.insert(k, lines[k]);
                    }
                }
                b = lines.join("\n").into_bytes();
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn mutated_inventories_never_panic(which in 0usize..2, edits in prop::collection::vec(edit(), 1..6)) {
        let ex = examples();
        let (name, text) = &ex[which];
        check(name, &apply(text, &edits));
    }

    #[test]
    fn truncated_inventories_never_panic(which in 0usize..2, cut in any::<usize>()) {
        let ex = examples();
        let (name, text) = &ex[which];
        let cut = cut % (text.len() + 1);
        check(name, &text.as_bytes()[..cut]);
    }
}
