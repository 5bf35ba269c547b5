//! One integration-test binary for the whole project (ripgrep's layout): each module
//! covers one capability, and `util` holds the small harness they share.

mod bundle;
mod catalog;
mod deb;
mod dnf;
mod el7;
mod errors;
mod etcd;
mod fetch;
mod fixtures;
mod httpd;
mod images;
mod inventory_cases;
mod lint;
mod ospkgs;
mod packages;
mod pki;
mod plan_cli;
mod proptests;
mod render;
mod rpmbuild;
mod util;
