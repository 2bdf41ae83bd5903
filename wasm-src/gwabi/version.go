package gwabi

// ABIVersion is the module ABI version (docs/module-abi.md, "Version") this package
// implements: what gw_abi_version must return.
const ABIVersion = 1

// ABIMinorVersion is the minor version of the module ABI this package speaks: 1.1 adds
// readings with several quantities ("quantities" in gw_init's output, "values" and "raws" in
// gw_read's: AppendQuantities, AppendMeasurements). A minor version is backward compatible:
// gw_abi_version still returns ABIVersion, and a 1.0 host serves the first quantity.
const ABIMinorVersion = 1

// Version is the version of the module kit (this Go module: gwabi, gwabi/gwtest, cbor),
// semantic versioning: the major number is always ABIVersion (a new ABI version is a new
// major version of the kit, with a /vN module path from v2 on, the Go rule for major
// versions); the minor number grows with additions to the Go API; the patch number with
// fixes. Releases are tagged wasm-src/v<Version> (a module in a subdirectory of its
// repository is tagged with that directory as prefix: https://go.dev/ref/mod#vcs-version).
const Version = "1.1.0"
