//! One integration-test binary for the whole project (ripgrep's layout): each module
//! covers one capability, and `util` holds the small harness they share.

mod acceptance;
mod addons;
mod ansible_diff;
mod api_proxy;
mod architecture;
mod bundle;
mod catalog;
mod deb;
mod dnf;
mod el7;
mod errors;
mod etcd;
mod etcd_backup;
mod fetch;
mod fixtures;
mod hostile;
mod hostile_inventory;
mod httpd;
mod images;
mod inventory_cases;
mod lint;
mod ospkgs;
mod package_data;
mod packages;
mod pki;
mod plan_cli;
mod proptests;
mod readme;
mod render;
mod rpmbuild;
mod smoke;
mod upgrade;
mod util;
