import XCTest
import Postgres

final class PostgresSmokeTests: XCTestCase {
    func testModuleLinks() {}
}
