import XCTest
import Kafka

final class KafkaSmokeTests: XCTestCase {
    func testModuleLinks() {}
}
