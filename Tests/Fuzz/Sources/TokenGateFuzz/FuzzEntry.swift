import CLibFuzzer
import Foundation

/// libFuzzer's entry points. One binary holds every target; `TOKENGATE_FUZZ_TARGET` picks
/// one (`Tests/Fuzz/run` sets it), so a crash input is replayed with the same variable:
///
/// ```sh
/// TOKENGATE_FUZZ_TARGET=cookie .build-fuzz/debug/TokenGateFuzz crash-<sha1>
/// ```
///
/// A target reports a broken invariant with `FuzzCheck.require`, which traps: libFuzzer saves
/// the input and exits non-zero, as it does for an AddressSanitizer report.
enum FuzzEntry {
    /// Every target, by the name `TOKENGATE_FUZZ_TARGET` and `Tests/Fuzz/corpus/<name>` use.
    static let names = [
        CookieFuzzTarget.name, AuthorizationFuzzTarget.name, LoginBodyFuzzTarget.name, FormFuzzTarget.name,
        RedirectFuzzTarget.name, IdentityHeaderFuzzTarget.name, FastCGIParamsFuzzTarget.name, TokenFuzzTarget.name,
        TokenMutationFuzzTarget.name, VerifyRequestFuzzTarget.name,
    ]

    /// Builds the target named `name` (keys, services), or `nil`.
    static func makeTarget(named name: String) -> (any FuzzTarget)? {
        switch name {
        case CookieFuzzTarget.name: CookieFuzzTarget()
        case AuthorizationFuzzTarget.name: AuthorizationFuzzTarget()
        case LoginBodyFuzzTarget.name: LoginBodyFuzzTarget()
        case FormFuzzTarget.name: FormFuzzTarget()
        case RedirectFuzzTarget.name: RedirectFuzzTarget()
        case IdentityHeaderFuzzTarget.name: IdentityHeaderFuzzTarget()
        case FastCGIParamsFuzzTarget.name: FastCGIParamsFuzzTarget()
        case TokenFuzzTarget.name: TokenFuzzTarget()
        case TokenMutationFuzzTarget.name: TokenMutationFuzzTarget()
        case VerifyRequestFuzzTarget.name: VerifyRequestFuzzTarget()
        default: nil
        }
    }

    /// The selected target, set once in `LLVMFuzzerInitialize` before any input runs.
    nonisolated(unsafe) static var selected: (any FuzzTarget)?
}

/// One fuzz target: a parser that sees client bytes, and the invariants it must keep.
protocol FuzzTarget {
    /// The name `TOKENGATE_FUZZ_TARGET` and `Tests/Fuzz/corpus/<name>` use.
    static var name: String { get }
    /// Runs one input; traps through `FuzzCheck.require` when an invariant breaks.
    func run(_ data: [UInt8])
}

/// The program's entry point (SwiftPM links an executable's `main` to `<Target>_main`): hands
/// the command line to libFuzzer's driver with the one-input callback below.
@_cdecl("TokenGateFuzz_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzerTestOneInput)
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> Int32 {
    let name = ProcessInfo.processInfo.environment["TOKENGATE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzEntry.makeTarget(named: name) else {
        let known = FuzzEntry.names.joined(separator: " ")
        FileHandle.standardError.write(Data("set TOKENGATE_FUZZ_TARGET to one of: \(known)\n".utf8))
        exit(2)
    }
    FuzzEntry.selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    FuzzEntry.selected?.run(data)
    return 0
}
