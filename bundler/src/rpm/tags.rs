//! The RPM v4 numbers `stream.rs` writes: header data types, tags, dependency and file flags.
//! Values from rpm 4.11's lib/rpmtag.h, lib/rpmds.h and lib/rpmfiles.h
//! (rpm-software-management/rpm, rpm-4.11.x); the names are rpm's without the prefix.

/// Header entry data types (`rpmTagType`).
pub mod ty {
    pub const INT16: u32 = 3;
    pub const INT32: u32 = 4;
    pub const STRING: u32 = 6;
    pub const BIN: u32 = 7;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// The region tags: the trailer entry that marks a header's entries as one immutable region.
pub const HEADERSIGNATURES: u32 = 62;
pub const HEADERIMMUTABLE: u32 = 63;
pub const HEADERI18NTABLE: u32 = 100;

/// Tags of the main header (`RPMTAG_*`).
pub mod tag {
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const SUMMARY: u32 = 1004;
    pub const DESCRIPTION: u32 = 1005;
    pub const BUILDTIME: u32 = 1006;
    pub const BUILDHOST: u32 = 1007;
    pub const SIZE: u32 = 1009;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const PACKAGER: u32 = 1015;
    pub const GROUP: u32 = 1016;
    pub const URL: u32 = 1020;
    pub const OS: u32 = 1021;
    pub const ARCH: u32 = 1022;
    pub const PREIN: u32 = 1023;
    pub const POSTIN: u32 = 1024;
    pub const PREUN: u32 = 1025;
    pub const POSTUN: u32 = 1026;
    pub const FILESIZES: u32 = 1028;
    pub const FILEMODES: u32 = 1030;
    pub const FILERDEVS: u32 = 1033;
    pub const FILEMTIMES: u32 = 1034;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const SOURCERPM: u32 = 1044;
    pub const FILEVERIFYFLAGS: u32 = 1045;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIREFLAGS: u32 = 1048;
    pub const REQUIRENAME: u32 = 1049;
    pub const REQUIREVERSION: u32 = 1050;
    pub const CONFLICTFLAGS: u32 = 1053;
    pub const CONFLICTNAME: u32 = 1054;
    pub const CONFLICTVERSION: u32 = 1055;
    pub const RPMVERSION: u32 = 1064;
    pub const CHANGELOGTIME: u32 = 1080;
    pub const CHANGELOGNAME: u32 = 1081;
    pub const CHANGELOGTEXT: u32 = 1082;
    pub const PREINPROG: u32 = 1085;
    pub const POSTINPROG: u32 = 1086;
    pub const PREUNPROG: u32 = 1087;
    pub const POSTUNPROG: u32 = 1088;
    pub const FILEDEVICES: u32 = 1095;
    pub const FILEINODES: u32 = 1096;
    pub const FILELANGS: u32 = 1097;
    pub const PROVIDEFLAGS: u32 = 1112;
    pub const PROVIDEVERSION: u32 = 1113;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const PAYLOADFORMAT: u32 = 1124;
    pub const PAYLOADCOMPRESSOR: u32 = 1125;
    pub const PAYLOADFLAGS: u32 = 1126;
    pub const PRETRANS: u32 = 1151;
    pub const PRETRANSPROG: u32 = 1153;
    pub const FILEDIGESTALGO: u32 = 5011;
}

/// Tags of the signature header (`RPMSIGTAG_*`; 1000-1007 overlap the main header's numbers).
pub mod sig {
    pub const RSA: u32 = 268;
    pub const SHA1: u32 = 269;
    pub const SHA256: u32 = 273;
    pub const SIZE: u32 = 1000;
    pub const PGP: u32 = 1002;
    pub const MD5: u32 = 1004;
    pub const PAYLOADSIZE: u32 = 1007;
}

/// Dependency flags (`rpmsenseFlags`).
pub mod sense {
    pub const LESS: u32 = 1 << 1;
    pub const EQUAL: u32 = 1 << 3;
    /// `%pretrans` dependency (`RPMSENSE_PRETRANS`).
    pub const PRETRANS: u32 = 1 << 7;
    pub const INTERP: u32 = 1 << 8;
    pub const SCRIPT_PRE: u32 = 1 << 9;
    pub const SCRIPT_POST: u32 = 1 << 10;
    pub const SCRIPT_PREUN: u32 = 1 << 11;
    pub const SCRIPT_POSTUN: u32 = 1 << 12;
    pub const RPMLIB: u32 = 1 << 24;
}

/// File flags (`rpmfileAttrs`).
pub mod file {
    pub const CONFIG: u32 = 1 << 0;
    pub const NOREPLACE: u32 = 1 << 4;
    /// `%ghost`: in the header (owned, with its attributes), not in the payload.
    pub const GHOST: u32 = 1 << 6;
}

/// `FILEDIGESTALGO` value for SHA-256 (`PGPHASHALGO_SHA256`).
pub const DIGEST_SHA256: u32 = 8;
/// `FILEVERIFYFLAGS`: verify everything (`RPMVERIFY_ALL`).
pub const VERIFY_ALL: u32 = u32::MAX;
/// `FILEVERIFYFLAGS` of a `%ghost` file, as rpmbuild sets it: everything but its digest, size,
/// link target and mtime (`RPMVERIFY_FILEDIGEST | RPMVERIFY_FILESIZE | RPMVERIFY_LINKTO |
/// RPMVERIFY_MTIME`), which a file written on the host does not keep.
pub const VERIFY_GHOST: u32 = VERIFY_ALL & !(1 | 2 | 4 | 32);
/// Lead: the RPM magic, format 3.0, binary package, os linux, header-style signature.
pub const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
pub const LEAD_OS_LINUX: u16 = 1;
pub const LEAD_SIGNATURE_HEADER: u16 = 5;
/// Header magic plus version 1 and four reserved bytes.
pub const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
