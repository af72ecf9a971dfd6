import MeshlineStorage
import Testing

/// Database URLs show up in errors and logs; their passwords must not.
@Suite struct PostgresURLTests {
    @Test(arguments: [
        ("postgres://meshline:s3cret@db.internal:5432/meshline", "postgres://meshline:***@db.internal:5432/meshline"),
        // A password with '#' does not parse as a URL: the message that says so must not show it.
        ("postgres://meshline:s3#cret@db.internal:5432/meshline", "postgres://meshline:***@db.internal:5432/meshline"),
        ("postgresql://ops:p@ss#word@db:5432/x", "postgresql://ops:***@db:5432/x"),
        ("postgres://db.internal/meshline", "postgres://db.internal/meshline"),
    ])
    func passwordsNeverAppear(url: String, shown: String) {
        #expect(PostgresURL.redacted(url) == shown)
        #expect(!PostgresURL.malformed(url).contains("s3"))
        #expect(!PostgresURL.malformed(url).contains("word"))
    }
}
