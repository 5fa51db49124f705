import XCTest
@testable import latent

final class RecommendCommandTests: XCTestCase {
    func testPrintsThePredictedRatingAndTheRankingScoreOnlyWhereTheyDiffer() {
        let rows = [
            RecommendCommand.Recommendation(movieID: 318, predictedRating: 5, rankingScore: 5.2478),
            RecommendCommand.Recommendation(movieID: 1, predictedRating: 4.25, rankingScore: 4.2501),
            RecommendCommand.Recommendation(movieID: 2, predictedRating: 0.5, rankingScore: 0.31),
        ]
        let lines = RecommendCommand.table(rows, titles: [318: "The Shawshank Redemption (1994)", 2: "Jumanji (1995)"])
        XCTAssertEqual(lines, [
            "rank\tmovie_id\tpredicted_rating\tranking_score\ttitle",
            "1\t318\t5.00\t5.2478\tThe Shawshank Redemption (1994)",
            "2\t1\t4.25\t\t",
            "3\t2\t0.50\t0.3100\tJumanji (1995)",
        ])
    }
}
