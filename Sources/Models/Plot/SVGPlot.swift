import Foundation

/// A minimal SVG line-chart writer for the experiment plots (no dependencies).
package enum SVGPlot {
    /// One line of a chart.
    package struct Series: Sendable, Equatable {
        package var name: String
        package var points: [(x: Double, y: Double)]

        package init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }

        package static func == (a: Series, b: Series) -> Bool {
            a.name == b.name && a.points.elementsEqual(b.points) { $0.x == $1.x && $0.y == $1.y }
        }
    }

    /// How x values map to positions.
    package enum XAxis: Sendable, Equatable {
        case linear
        /// Distinct x values evenly spaced in increasing order (for k = 0, 1, 2, 3, 5, 10, 20, 40, 100).
        case categorical
    }

    /// An SVG document with one polyline (and markers) per series, axes with ticks, labels and a legend.
    package static func lineChart(
        title: String, xLabel: String, yLabel: String, series: [Series], xAxis: XAxis = .linear,
        width: Int = 720, height: Int = 440
    ) -> String {
        let left = 70.0, right = 160.0, top = 40.0, bottom = 60.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        let allPoints = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = Array(Set(allPoints.map(\.x))).sorted()
        var yMin = allPoints.map(\.y).min() ?? 0, yMax = allPoints.map(\.y).max() ?? 1
        if yMax - yMin < 1e-12 { yMin -= 0.5; yMax += 0.5 }
        let pad = (yMax - yMin) * 0.08
        yMin -= pad; yMax += pad
        let xMin = xs.first ?? 0, xMax = xs.last ?? 1
        func px(_ x: Double) -> Double {
            switch xAxis {
            case .linear:
                return left + (xMax > xMin ? (x - xMin) / (xMax - xMin) : 0.5) * plotW
            case .categorical:
                let i = xs.firstIndex(of: x) ?? 0
                return left + (xs.count > 1 ? Double(i) / Double(xs.count - 1) : 0.5) * plotW
            }
        }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left + plotW / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

        """
        // Axes.
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" stroke=\"black\"/>\n"
        // Y ticks.
        for i in 0...5 {
            let y = yMin + (yMax - yMin) * Double(i) / 5
            svg += "<line x1=\"\(f(left - 4))\" y1=\"\(f(py(y)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(y)))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\">\(tick(y, span: yMax - yMin))</text>\n"
        }
        // X ticks: every distinct x when categorical, six when linear.
        let xTicks: [Double] = xAxis == .categorical || xs.count <= 12
            ? xs : (0...5).map { xMin + (xMax - xMin) * Double($0) / 5 }
        for x in xTicks {
            svg += "<line x1=\"\(f(px(x)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(px(x)))\" y2=\"\(f(top + plotH + 4))\" stroke=\"black\"/>\n"
            svg += "<text x=\"\(f(px(x)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(tick(x, span: xMax - xMin))</text>\n"
        }
        svg += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(Double(height) - 15))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(18 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        // Series and legend.
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            for p in points {
                svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(color)\"><title>\(escape(s.name)): x=\(tick(p.x, span: 1)) y=\(String(format: "%.4f", p.y))</title></circle>\n"
            }
            let ly = top + 10 + Double(i) * 18
            svg += "<line x1=\"\(f(left + plotW + 15))\" y1=\"\(f(ly))\" x2=\"\(f(left + plotW + 35))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            svg += "<text x=\"\(f(left + plotW + 40))\" y=\"\(f(ly + 4))\">\(escape(s.name))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    private static func tick(_ v: Double, span: Double) -> String {
        if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
        let decimals = span >= 10 ? 1 : span >= 1 ? 2 : span >= 0.1 ? 3 : 4
        return String(format: "%.\(decimals)f", v)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
