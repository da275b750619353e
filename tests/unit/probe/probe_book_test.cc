// derpprobe's metrics as `derpctl probe` serves them: names, labels, counters, and what a
// dashboard written for derpprobe reads.
#include "derpctl/probe/probe_book.h"

#include <gtest/gtest.h>

#include "derpctl/probe/map_source.h"

namespace derpctl::probe {
namespace {

ProbeReport report(const std::string& name, ProbeClass cls, bool good, double latency_ms) {
  ProbeReport r;
  r.spec.name = name;
  r.spec.cls = cls;
  r.spec.region_id = 900;
  r.spec.region_code = "fra";
  r.spec.from.name = r.spec.to.name = "900a";
  r.spec.from.host_name = "a.example";
  r.outcome.good = good;
  r.outcome.latency_ms = latency_ms;
  r.start = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  r.end = std::chrono::system_clock::time_point(std::chrono::milliseconds(1500));
  return r;
}

TEST(ProbeBook, ServesDerpprobeMetricNamesAndLabels) {
  ProbeBook book(std::chrono::seconds(15));
  book.record(report("derp/fra/900a/900a/mesh", ProbeClass::kMesh, true, 12.5));
  auto bad = report("derp/fra/900a/tls", ProbeClass::kTls, false, 3);
  book.record(bad);
  book.record(bad);
  const std::string text = book.metrics_text();
  const std::string mesh =
      R"({name="derp/fra/900a/900a/mesh",class="derp_mesh",region="fra",region_id="900",)"
      R"(hostname="a.example",derp_path="single"})";
  EXPECT_NE(text.find("derpprobe_result" + mesh + " 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("derpprobe_latency_millis" + mesh + " 12.5\n"), std::string::npos);
  EXPECT_NE(text.find("derpprobe_interval_secs" + mesh + " 15\n"), std::string::npos);
  EXPECT_NE(text.find("derpprobe_start_secs" + mesh + " 1000\n"), std::string::npos);
  EXPECT_NE(text.find("derpprobe_end_secs" + mesh + " 1.5\n"), std::string::npos);
  const std::string tls =
      R"({name="derp/fra/900a/tls",class="tls",region="fra",region_id="900",hostname="a.example")";
  EXPECT_NE(text.find("derpprobe_result" + tls + "} 0\n"), std::string::npos);
  EXPECT_NE(text.find("derpprobe_attempts_total" + tls + R"(,status="fail"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find("derpprobe_attempts_total" + tls + R"(,status="ok"} 0)"), std::string::npos);
  // No latency for a failed probe, as derpprobe.
  EXPECT_EQ(text.find("derpprobe_latency_millis" + tls), std::string::npos);
  EXPECT_NE(text.find("# TYPE derpprobe_attempts_total counter\n"), std::string::npos);
  EXPECT_FALSE(book.all_good());
}

TEST(ProbeBook, ShowsInFlightAndForgetsProbesThatLeftTheMap) {
  ProbeBook book(std::chrono::seconds(15));
  auto r = report("derp/fra/900a/900a/mesh", ProbeClass::kMesh, true, 1);
  book.started(r.spec);
  EXPECT_NE(book.metrics_text().find("derpprobe_in_flight{name=\"derp/fra/900a/900a/mesh\""),
            std::string::npos);
  EXPECT_EQ(book.metrics_text().find("derpprobe_result"),
            book.metrics_text().find("derpprobe_result "));  // HELP only
  book.record(r);
  EXPECT_TRUE(book.all_good());
  book.keep_only({});
  EXPECT_EQ(book.metrics_text().find("900a"), std::string::npos);
}

TEST(ProbeBook, EscapesLabelValues) {
  ProbeBook book(std::chrono::seconds(15));
  auto r = report("derp/x\"y\\z/a/tls", ProbeClass::kTls, true, 1);
  book.record(r);
  EXPECT_NE(book.metrics_text().find(R"(name="derp/x\"y\\z/a/tls")"), std::string::npos);
}

TEST(MapKeeper, ReusesTheLastGoodMapForTenMinutes) {
  MapKeeper keeper;
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  DerpMapResult failed;
  failed.error = "HTTP status 500";
  EXPECT_FALSE(keeper.after_load(failed, t0));
  auto good = parse_derp_map(R"({"Regions":{"1":{"RegionID":1}}})");
  ASSERT_EQ(good.error, "");
  EXPECT_TRUE(keeper.after_load(good, t0));
  EXPECT_TRUE(keeper.after_load(failed, t0 + std::chrono::minutes(9)));
  EXPECT_FALSE(keeper.after_load(failed, t0 + std::chrono::minutes(10)));
}

}  // namespace
}  // namespace derpctl::probe
