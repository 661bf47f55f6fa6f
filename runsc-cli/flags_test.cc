#include "runsc-cli/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/base/testing_matchers.h"

namespace moat::cli {
namespace {

using ::moat::testing::StatusIs;
using ::testing::ElementsAre;

absl::StatusOr<ParsedFlags> Parse(std::vector<std::string> args) {
  return ParseFlags(args, GlobalFlagSpecs());
}

TEST(FlagsTest, AllGoStyleForms) {
  auto p = Parse({"--platform=ptrace", "-debug", "--root", "/tmp/r",
                  "-log-format", "json", "--strace=false", "do", "prog", "-x"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->String("platform"), "ptrace");
  EXPECT_TRUE(p->Bool("debug"));
  EXPECT_EQ(p->String("root"), "/tmp/r");
  EXPECT_EQ(p->String("log-format"), "json");
  EXPECT_FALSE(p->Bool("strace"));
  // Parsing stops at the subcommand; its arguments are left alone.
  EXPECT_THAT(p->rest, ElementsAre("do", "prog", "-x"));
}

TEST(FlagsTest, DefaultsAndDoubleDash) {
  auto p = Parse({"--", "--debug"});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Bool("debug"));
  EXPECT_EQ(p->String("root", "/run/moat"), "/run/moat");
  EXPECT_THAT(p->rest, ElementsAre("--debug"));
}

TEST(FlagsTest, RuncFlagsAccepted) {
  auto p = Parse({"--systemd-cgroup", "--rootless=false", "--criu", "/x",
                  "state", "id"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->rest, ElementsAre("state", "id"));
}

TEST(FlagsTest, ErrorsNameTheFlag) {
  auto unknown = Parse({"--bogus", "do"});
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(unknown.status().message(), "flag provided but not defined: -bogus");
  EXPECT_EQ(Parse({"--root"}).status().message(),
            "flag needs an argument: -root");
  EXPECT_THAT(Parse({"--debug=maybe"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace moat::cli
