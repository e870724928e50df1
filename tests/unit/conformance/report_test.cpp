// check-service's report (report.h): the --json object's keys and counts, the
// shape of a text row, and an HTML page that quotes what a hostile service
// sent as text, never as markup.
#include "webpush/conformance/report.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace webpush::conformance {
namespace {

constexpr Check kPassing{"handshake.unit-pass", "a check that passes", "RFC 0000 §1", nullptr};
constexpr Check kFailing{"handshake.unit-fail", "a check that fails", "autopush protocol: hello", nullptr};
constexpr Check kSkipped{"limits.unit-skip", "a check that is skipped", "RFC 6455 §5.5", nullptr, true};

// Rows render only under the group they name, so the rows name real groups.
const Group& group(std::string_view id) {
  for (const auto& g : all_groups()) {
    if (g.id == id) return g;
  }
  throw std::logic_error("no group " + std::string(id));
}

Report sample_report() {
  Report r;
  r.server = "ws://127.0.0.1:8080/";
  r.version = "0.1.0";
  r.started_unix_ms = 1'700'000'000'000;
  r.duration_ms = 12'400;
  r.probe_limits = true;
  r.rows.push_back(Row{&group("handshake"), &kPassing, Outcome::pass("uaid 0123"), 15});
  r.rows.push_back(Row{&group("handshake"), &kFailing, Outcome::fail("answered 201\ninstead"), 230});
  r.rows.push_back(Row{&group("limits"), &kSkipped, Outcome::skip("runs only with --probe-limits"), 0});
  return r;
}

TEST(ConformanceReport, CountsAndPassed) {
  Report r = sample_report();
  EXPECT_EQ(r.count(Verdict::pass), 1);
  EXPECT_EQ(r.count(Verdict::fail), 1);
  EXPECT_EQ(r.count(Verdict::skip), 1);
  EXPECT_FALSE(r.passed());
  r.rows.erase(r.rows.begin() + 1);
  EXPECT_TRUE(r.passed()) << "a skip does not count against a run";
}

TEST(ConformanceReport, JsonHasTheDocumentedKeys) {
  const nlohmann::json j = to_json(sample_report());
  EXPECT_EQ(j.at("server"), "ws://127.0.0.1:8080/");
  EXPECT_EQ(j.at("version"), "0.1.0");
  EXPECT_EQ(j.at("started_unix_ms"), 1'700'000'000'000);
  EXPECT_EQ(j.at("duration_ms"), 12'400);
  EXPECT_EQ(j.at("probe_limits"), true);
  EXPECT_EQ(j.at("passed"), false);
  EXPECT_EQ(j.at("counts"), (nlohmann::json{{"pass", 1}, {"fail", 1}, {"skip", 1}}));
  EXPECT_EQ(j.size(), 8u) << j.dump(2);
  ASSERT_EQ(j.at("checks").size(), 3u);
  const nlohmann::json& fail = j.at("checks")[1];
  EXPECT_EQ(fail, (nlohmann::json{{"id", "handshake.unit-fail"},
                                  {"group", "handshake"},
                                  {"title", "a check that fails"},
                                  {"reference", "autopush protocol: hello"},
                                  {"result", "fail"},
                                  {"observed", "answered 201\ninstead"},
                                  {"duration_ms", 230}}));
  EXPECT_EQ(j.at("checks")[0].at("result"), "pass");
  EXPECT_EQ(j.at("checks")[2].at("result"), "skip");
  EXPECT_EQ(j.at("checks")[2].at("group"), "limits");
}

TEST(ConformanceReport, EmptyRunPasses) {
  const nlohmann::json j = to_json(Report{});
  EXPECT_EQ(j.at("passed"), true);
  EXPECT_TRUE(j.at("checks").is_array());
  EXPECT_TRUE(j.at("checks").empty());
}

TEST(ConformanceReport, TextRowIsAVerdictLineAndAnIndentedObservedLine) {
  const Report r = sample_report();
  EXPECT_EQ(render_text_row(r.rows[1]),
            "  FAIL  handshake.unit-fail                a check that fails  [autopush protocol: hello]\n"
            "        answered 201 instead\n");
  EXPECT_EQ(render_text_row(Row{&group("handshake"), &kPassing, Outcome::pass(""), 1}),
            "  PASS  handshake.unit-pass                a check that passes  [RFC 0000 §1]\n");
}

TEST(ConformanceReport, TextSummaryCountsEachVerdict) {
  EXPECT_EQ(render_text_summary(sample_report()), "3 checks in 12.4 s: 1 passed, 1 failed, 1 skipped");
  EXPECT_EQ(render_group_heading(group("vapid")).find("(vapid)") != std::string::npos, true);
}

TEST(ConformanceReport, HtmlQuotesHostileObservedText) {
  Report r = sample_report();
  r.server = "ws://evil/<b>";
  r.rows[1].outcome = Outcome::fail("<script>alert(\"x\")</script> & <img src=x onerror=alert(1)>");
  const std::string html = render_html(r);
  EXPECT_EQ(html.find("<script"), std::string::npos) << html;
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos) << html;
  EXPECT_NE(html.find("&amp; &lt;img"), std::string::npos) << html;
}

TEST(ConformanceReport, HtmlHasARowPerCheckUnderItsGroup) {
  const std::string html = render_html(sample_report());
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>")) << html.substr(0, 100);
  for (const char* id : {"handshake.unit-pass", "handshake.unit-fail", "limits.unit-skip"}) {
    EXPECT_NE(html.find(std::string("<tr id=\"check-") + id + "\">"), std::string::npos) << id;
  }
  const auto handshake = html.find("id=\"group-handshake\"");
  const auto limits = html.find("id=\"group-limits\"");
  ASSERT_NE(handshake, std::string::npos);
  ASSERT_NE(limits, std::string::npos);
  EXPECT_LT(handshake, html.find("<tr id=\"check-handshake.unit-fail\""));
  EXPECT_LT(limits, html.find("<tr id=\"check-limits.unit-skip\""));
  EXPECT_EQ(html.find("id=\"group-vapid\""), std::string::npos) << "a group with no row has no section";
  EXPECT_NE(html.find("v-fail\">FAIL"), std::string::npos);
  EXPECT_NE(html.find("with --probe-limits"), std::string::npos);
}

TEST(ConformanceReport, HtmlOverviewHasASquarePerCheckLinkedToItsRow) {
  const std::string html = render_html(sample_report());
  const auto overview = html.find("id=\"overview\"");
  ASSERT_NE(overview, std::string::npos);
  EXPECT_LT(overview, html.find("id=\"group-handshake\""));
  EXPECT_NE(html.find("<a class=\"v-pass\" href=\"#check-handshake.unit-pass\""), std::string::npos) << html;
  EXPECT_NE(html.find("<a class=\"v-fail\" href=\"#check-handshake.unit-fail\""), std::string::npos) << html;
  EXPECT_NE(html.find("<a class=\"v-skip\" href=\"#check-limits.unit-skip\""), std::string::npos) << html;
}

}  // namespace
}  // namespace webpush::conformance
