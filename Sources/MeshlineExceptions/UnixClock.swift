import Foundation

/// Wall-clock time in Unix milliseconds, the unit of every time in the contract.
public enum UnixClock {
    public static func nowMilliseconds() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000)
    }
}
