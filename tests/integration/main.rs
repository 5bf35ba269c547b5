//! One integration-test binary for the whole project (ripgrep's layout): each module
//! covers one capability, and `util` holds the small harness they share.

mod ansible_diff;
mod bundle;
mod catalog;
mod deb;
mod dnf;
mod etcd;
mod fetch;
mod fixtures;
mod hostile_inventory;
mod httpd;
mod images;
mod inventory_cases;
mod packages;
mod pki;
mod plan_cli;
mod proptests;
mod render;
mod util;
