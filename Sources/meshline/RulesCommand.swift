import ArgumentParser
import Foundation
import MeshlineDecision
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// `meshline rules …`: check rule-set files locally, put them into and read them from the decision service.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check, put and read a tenant's versioned rule sets (YAML, as services/decision/rules.example.yaml).",
        subcommands: [Check.self, Put.self, Get.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse and validate rule-set files without any service.",
            discussion: """
                Runs the decision service's own parser and rules. Exit code 0: every file is valid (one summary line \
                each); 1: a file has problems, each printed as FILE:LINE:COLUMN: FIELD REASON; 2: a file cannot be read. \
                Whether a rollout's fallback_version exists is checked when the rule set is put, where the other \
                versions are known.
                """)

        @Argument(help: "Rule-set YAML files.")
        var files: [String]
        @Flag(help: "Print a JSON array: one object per file with its problems (file, line, column, message).")
        var json = false

        func run() throws {
            guard !files.isEmpty else { throw CLIFailure.badInput("no files: pass one or more rule-set YAML files") }
            var results: [JSONValue] = []
            var status: Int32 = 0
            for file in files {
                let result = RuleFile.check(file)
                switch result {
                case .valid(let ruleSet):
                    if !json { print("\(file): ok, \(RuleFile.summary(ruleSet))") }
                case .invalid(let problems):
                    status = max(status, ExitStatus.checkFailed)
                    if !json { problems.forEach { print($0) } }
                case .unreadable(let reason):
                    status = ExitStatus.badInput
                    if !json { printError("meshline rules check: \(reason)") }
                }
                results.append(result.json(file: file))
            }
            if json { print(JSONValue.array(results).text()) }
            if status != 0 { throw ExitCode(status) }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a rule-set file and store it in the decision service as its tenant's version.",
            discussion: "Versions never change: putting other rules under a stored version is refused (exit 16).")

        @OptionGroup var mesh: MeshOptions
        @Argument(help: "The rule-set YAML file.")
        var file: String

        func run() async throws {
            try await runReporting("rules put") {
                let ruleSet: RuleSet
                switch RuleFile.check(file) {
                case .valid(let parsed): ruleSet = parsed
                case .invalid(let problems): throw CLIFailure.badInput("\(file) is not a valid rule set; fix:\n" + problems.joined(separator: "\n"))
                case .unreadable(let reason): throw CLIFailure.badInput(reason)
                }
                if let tenant = mesh.tenant, tenant != ruleSet.tenantID {
                    throw CLIFailure.badInput("--tenant is '\(tenant)' but \(file) is for tenant '\(ruleSet.tenantID)'; drop --tenant or fix tenant_id")
                }
                let response: PutRuleSetResponse = try await withClient(try mesh.decision()) { client in
                    try await client.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: ruleSet))
                }
                mesh.emit(response) { "stored: " + RuleFile.summary(response.ruleSet ?? ruleSet) }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a tenant's rule set as YAML (the active version, or --version).")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "Version to read, e.g. v3.1; default: the active version.")
        var version = ""

        func run() async throws {
            try await runReporting("rules get") {
                let tenant = try mesh.requireTenant()
                let response: GetRuleSetResponse = try await withClient(try mesh.decision()) { client in
                    try await client.unary(DecisionServiceDescriptor.getRuleSet, GetRuleSetRequest(tenantID: tenant, version: version))
                }
                mesh.emit(response) { RuleSetYAML.encode(response.ruleSet ?? RuleSet()) }
            }
        }
    }
}

/// One rule-set file checked by the decision service's parser and validation.
enum RuleFile {
    case valid(RuleSet)
    /// Every problem as `FILE:LINE:COLUMN: FIELD REASON`.
    case invalid([String])
    case unreadable(String)

    static func check(_ path: String) -> RuleFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .unreadable("cannot read \(path): no such file or no permission")
        }
        guard let text = String(data: data, encoding: .utf8) else { return .unreadable("\(path) is not UTF-8 text") }
        do {
            return .valid(try RuleSetYAML.decode(text, file: path))
        } catch {
            return .invalid(error.rpcError.message.split(separator: "\n").map(String.init))
        }
    }

    /// `tenant acme, version v3.1: 3 warehouses, 4 ownership rules, …`.
    static func summary(_ ruleSet: RuleSet) -> String {
        "tenant \(ruleSet.tenantID), version \(ruleSet.version): \(ruleSet.warehouses.count) warehouses, "
            + "\(ruleSet.ownership.count) ownership rules, \(ruleSet.serviceLevels.count) service levels, "
            + "\(ruleSet.exceptionRules.count) exception rules, \(ruleSet.packingRules.count) packing rules"
    }

    /// `{"file", "ok", "tenant_id", "version", "problems": [{"line", "column", "message"}]}`,
    /// or `"error"` for a file that cannot be read.
    func json(file: String) -> JSONValue {
        var members = [JSONMember("file", .string(file))]
        switch self {
        case .valid(let ruleSet):
            members += [
                JSONMember("ok", .bool(true)), JSONMember("tenant_id", .string(ruleSet.tenantID)), JSONMember("version", .string(ruleSet.version)),
                JSONMember("problems", .array([])),
            ]
        case .invalid(let problems):
            members += [JSONMember("ok", .bool(false)), JSONMember("problems", .array(problems.map { Self.problem($0, file: file) }))]
        case .unreadable(let reason):
            members += [JSONMember("ok", .bool(false)), JSONMember("error", .string(reason))]
        }
        return .object(members)
    }

    /// `FILE:12:5: warehouses[0].time_zone …` → line 12, column 5 and the rest.
    private static func problem(_ text: String, file: String) -> JSONValue {
        var rest = Substring(text)
        if rest.hasPrefix(file + ":") { rest = rest.dropFirst(file.count + 1) }
        let parts = rest.split(separator: ":", maxSplits: 2)
        guard parts.count == 3, let line = Int64(parts[0]), let column = Int64(parts[1]) else {
            return .object([JSONMember("message", .string(String(rest).trimmingCharacters(in: .whitespaces)))])
        }
        return .object([
            JSONMember("line", .integer(line)), JSONMember("column", .integer(column)),
            JSONMember("message", .string(parts[2].trimmingCharacters(in: .whitespaces))),
        ])
    }
}
