import Foundation
import MeshlineModels

/// How a case moves between retrying, a human queue, the backorder queue and
/// resolved: one place for every transition, its history line, its timer and
/// the notifications it raises. Pure: the caller stores the result.
struct CaseRules: Sendable {
    let policy: RouterPolicy

    static let serviceActor = "service:exceptions"

    // MARK: Contacts

    /// The highest escalation level the export's contacts serve (at least 1).
    static func topLevel(_ export: Export) -> Int32 {
        max(1, export.escalationContacts.map { max(1, $0.level) }.max() ?? 1)
    }

    /// Who hears about `level`: its contacts, and at level 1 the exception path's first contact.
    static func contacts(_ export: Export, level: Int32) -> [Contact] {
        export.escalationContacts.filter { contact in
            max(1, contact.level) == level || (level == 1 && !contact.contactID.isEmpty && contact.contactID == export.exceptionPath?.contactID)
        }
    }

    static func note(_ record: inout CaseRecord, at now: Int64, actor: String = serviceActor, _ change: String) {
        record.exceptionCase.history.append(CaseEvent(atUnixMs: now, actor: actor, change: change))
        record.exceptionCase.updatedAtUnixMs = now
    }

    private static func notification(
        _ record: CaseRecord, _ kind: NotificationKind, id: String, at now: Int64, message: String, recipients: [Contact], expectedAt: Int64 = 0
    ) -> NotificationEvent {
        let c = record.exceptionCase
        return NotificationEvent(
            notificationID: "\(c.caseID)/\(id)", tenantID: c.tenantID, kind: kind, caseID: c.caseID, exportID: c.exportID, orderID: c.orderID,
            atUnixMs: now, message: message, expectedAtUnixMs: expectedAt, recipients: recipients)
    }

    static func day(_ unixMs: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: Date(timeIntervalSince1970: Double(unixMs) / 1000))
    }

    // MARK: Transitions

    /// Puts the case in its human queue at level 1 and tells level 1.
    func enqueue(_ record: inout CaseRecord, at now: Int64, why: String) -> [NotificationEvent] {
        let queue = record.export.exceptionPath?.queue ?? ""
        record.exceptionCase.queue = queue.isEmpty ? policy.defaultQueue : queue
        record.exceptionCase.state = .queued
        record.exceptionCase.nextAttemptAtUnixMs = 0
        record.exceptionCase.escalationLevel = 1
        record.exceptionCase.claimedBy = ""
        Self.note(&record, at: now, "queued in \(record.exceptionCase.queue) at level 1: \(why)")
        armEscalation(&record, at: now)
        return [raised(record, at: now)]
    }

    /// Moves an unclaimed case past its due time to the next level and tells that level.
    func escalate(_ record: inout CaseRecord, at now: Int64) -> [NotificationEvent] {
        let level = record.exceptionCase.escalationLevel + 1
        record.exceptionCase.escalationLevel = level
        Self.note(&record, at: now, "escalated to level \(level): unclaimed past \(record.exceptionCase.dueAtUnixMs)")
        armEscalation(&record, at: now)
        return [raised(record, at: now)]
    }

    /// Sets the current level's due time, and a timer when a higher level exists.
    func armEscalation(_ record: inout CaseRecord, at now: Int64) {
        let level = record.exceptionCase.escalationLevel
        let due = now + policy.section(tenantID: record.exceptionCase.tenantID).escalationDelay(level: level)
        record.exceptionCase.dueAtUnixMs = due
        record.timer = level < Self.topLevel(record.export) ? CaseTimer(kind: .escalate, at: due) : nil
    }

    private func raised(_ record: CaseRecord, at now: Int64) -> NotificationEvent {
        let c = record.exceptionCase
        return Self.notification(
            record, .escalationRaised, id: "escalation-\(c.escalationLevel)", at: now,
            message: "escalation: \(c.kind.protoName) of \(c.exportID)@\(c.exportVersion) needs a human in \(c.queue) (level \(c.escalationLevel))",
            recipients: Self.contacts(record.export, level: c.escalationLevel))
    }

    /// Schedules the next automatic retry, or queues the case when the policy's
    /// attempts are spent or a retry at that time could no longer ship by ship-by.
    func scheduleRetry(_ record: inout CaseRecord, at now: Int64, why: String) -> [NotificationEvent] {
        let c = record.exceptionCase
        let rule = policy.section(tenantID: c.tenantID).rule(for: c.reason)
        guard Int(c.attempts) < rule.maximumAttempts else {
            return enqueue(&record, at: now, why: "\(why); retries exhausted after \(c.attempts) of \(rule.maximumAttempts)")
        }
        let next = now + policy.retryDelay(rule: rule, caseID: c.caseID, attempt: Int(c.attempts + record.unanswered) + 1)
        if let shipBy = record.export.sla?.shipByUnixMs, shipBy > 0, next > shipBy - rule.shipByMarginMs {
            return enqueue(&record, at: now, why: "\(why); a retry at \(next) could not ship by \(shipBy)")
        }
        record.exceptionCase.state = .retrying
        record.exceptionCase.nextAttemptAtUnixMs = next
        record.exceptionCase.dueAtUnixMs = 0
        record.timer = CaseTimer(kind: .retry, at: next)
        Self.note(&record, at: now, "\(why); retry \(c.attempts + 1) at \(next)")
        return []
    }

    /// Puts the case in the backorder queue until a routable version of the export
    /// exists, and tells the customer once.
    func awaitStock(_ record: inout CaseRecord, version: Int64, expectedRestock: Int64, at now: Int64, why: String) -> [NotificationEvent] {
        record.export.version = version
        record.exceptionCase.state = .queued
        record.exceptionCase.queue = policy.backorderQueue
        record.exceptionCase.nextAttemptAtUnixMs = 0
        record.exceptionCase.escalationLevel = 0
        record.exceptionCase.expectedRestockAtUnixMs = expectedRestock
        record.exceptionCase.dueAtUnixMs = expectedRestock
        record.timer = CaseTimer(kind: .backorderPoll, at: now + policy.backorderPollIntervalMs)
        Self.note(&record, at: now, "\(why); waiting in \(policy.backorderQueue) for a routable version after v\(version)")
        let message = expectedRestock > 0 ? "backorder: new expected ship date \(Self.day(expectedRestock))" : "backorder: waiting for stock, date not yet known"
        return [Self.notification(
            record, .customerDelayNotice, id: "customer-delay-notice", at: now, message: message,
            recipients: record.export.escalationContacts.filter { $0.channel == "crm" }, expectedAt: expectedRestock)]
    }

    /// Ends the case and tells everyone who was told about it.
    func resolve(_ record: inout CaseRecord, _ resolution: Resolution, actor: String, at now: Int64) -> [NotificationEvent] {
        record.exceptionCase.state = .resolved
        record.exceptionCase.resolution = resolution
        record.exceptionCase.nextAttemptAtUnixMs = 0
        record.exceptionCase.dueAtUnixMs = 0
        record.timer = nil
        let detail = [resolution.overrideRef, resolution.reason].filter { !$0.isEmpty }.joined(separator: ": ")
        Self.note(&record, at: now, actor: actor, "resolved \(resolution.kind.protoName)\(detail.isEmpty ? "" : " (\(detail))")")
        let level = max(1, record.exceptionCase.escalationLevel)
        let recipients = (1...level).flatMap { Self.contacts(record.export, level: $0) }
        return [Self.notification(
            record, .caseResolved, id: "case-resolved", at: now,
            message: "resolved: \(record.exceptionCase.exportID) \(resolution.kind.protoName)\(detail.isEmpty ? "" : " (\(detail))")", recipients: recipients)]
    }
}
