// SPDX-License-Identifier: GPL-2.0
//
// Unit tests of dibs_tools (utils/lib): the error type and its report, unique_fd, command lines
// over CLI11, and sysfs attributes (in a temporary directory).
#define BOOST_TEST_MODULE tools_lib
#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "sysfs.hpp"
#include "test_files.hpp"

#include <array>
#include <cerrno>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <unistd.h>

using namespace dibs::tools;
using dibs::test::slurp;
using dibs::test::spit;

namespace {

/// True if fd is an open descriptor of this process.
bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1; // NOLINT(*-vararg)
}

/// A descriptor of /dev/null.
int open_null() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC); // NOLINT(*-vararg)
    BOOST_REQUIRE(fd >= 0);
    return fd;
}

/// The usage error parse() throws for args, or nullopt if it parses.
std::optional<error> parse_error(CLI::App& app, std::vector<std::string_view> args,
                                 std::string_view context = {}) {
    try {
        parse(app, args, context);
    } catch (const error& e) {
        return e;
    }
    return std::nullopt;
}

/// An app like a tool's command: -v (switch), --name VALUE, and no positionals.
struct command_app {
    command_app() : app(make_app("cmd")) {
        add_switch(*app, "-v,--verbose", verbose);
        app->add_option("-n,--name", name)->type_name("NAME");
    }
    std::unique_ptr<CLI::App> app;
    bool verbose = false;
    std::optional<std::string> name;
};

} // namespace

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(plain_error_is_an_operational_failure) {
    const error e("no such dibs device 'x'", "x", ENODEV);
    BOOST_TEST(std::string{e.what()} == "no such dibs device 'x'");
    BOOST_TEST(e.resource() == "x");
    BOOST_TEST(e.errnum() == ENODEV);
    BOOST_TEST(e.status() == exit_failure);
}

BOOST_AUTO_TEST_CASE(usage_error_has_status_2_and_names_the_command) {
    const auto e = error::usage("show: missing device name", "show");
    BOOST_TEST(std::string{e.what()} == "show: missing device name");
    BOOST_TEST(e.status() == exit_usage);
    BOOST_TEST(e.resource() == "show");
    BOOST_TEST(e.errnum() == 0);
    BOOST_TEST(error::usage("bad").resource().empty());
}

BOOST_AUTO_TEST_CASE(system_error_names_verb_path_errno_and_hint) {
    const auto e = error::system("add-loopback", "write", "/sys/x", EACCES, "are you root?");
    BOOST_TEST(std::string{e.what()} ==
               "add-loopback: cannot write /sys/x: Permission denied (errno 13); are you root?");
    BOOST_TEST(e.resource() == "/sys/x");
    BOOST_TEST(e.errnum() == EACCES);
    BOOST_TEST(e.status() == exit_failure);
}

BOOST_AUTO_TEST_CASE(system_error_without_context_or_hint) {
    const auto e = error::system("", "read", "/sys/y", ENOENT);
    BOOST_TEST(std::string{e.what()} == "cannot read /sys/y: No such file or directory (errno 2)");
}

BOOST_AUTO_TEST_CASE(errno_text_has_message_and_number) {
    BOOST_TEST(errno_text(EINVAL) == "Invalid argument (errno 22)");
    BOOST_TEST(errno_text(ENOSPC) == "No space left on device (errno 28)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(quoting)

BOOST_AUTO_TEST_CASE(plain_text_in_single_quotes) {
    BOOST_TEST(quote("abc") == "'abc'");
    BOOST_TEST(quote("") == "''");
    BOOST_TEST(quote("dibs_lo0 0x10") == "'dibs_lo0 0x10'");
}

BOOST_AUTO_TEST_CASE(unprintable_quotes_and_backslashes_as_hex) {
    BOOST_TEST(quote("a\nb") == "'a\\x0ab'");
    BOOST_TEST(quote("it's") == "'it\\x27s'");
    BOOST_TEST(quote("a\\b") == "'a\\x5cb'");
    BOOST_TEST(quote("\x7f\xff") == "'\\x7f\\xff'");
    BOOST_TEST(quote(std::string_view{"a\0b", 3}) == "'a\\x00b'");
}

BOOST_AUTO_TEST_CASE(cut_after_64_bytes) {
    BOOST_TEST(quote(std::string(64, 'x')) == "'" + std::string(64, 'x') + "'");
    BOOST_TEST(quote(std::string(100, 'x')) == "'" + std::string(64, 'x') + "...'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report)

namespace {

struct reported {
    int status;
    std::string out;
    std::string err;
};

/// report_errors() of tool "tool" around body, with what it wrote.
template <typename Body>
reported report(Body&& body) {
    std::ostringstream out;
    std::ostringstream err;
    const int status = report_errors("tool", out, err, std::forward<Body>(body));
    return {status, out.str(), err.str()};
}

} // namespace

BOOST_AUTO_TEST_CASE(returns_the_body_status) {
    const auto r = report([] { return 3; });
    BOOST_TEST(r.status == 3);
    BOOST_TEST(r.err.empty());
}

BOOST_AUTO_TEST_CASE(error_is_reported_with_the_tool_name) {
    const auto r = report([]() -> int { throw error::system("", "open", "/x", ENOENT); });
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "tool: cannot open /x: No such file or directory (errno 2)\n");
}

BOOST_AUTO_TEST_CASE(usage_error_adds_the_help_hint) {
    const auto r = report([]() -> int { throw error::usage("bad option"); });
    BOOST_TEST(r.status == exit_usage);
    BOOST_TEST(r.err == "tool: bad option\nTry 'tool --help'.\n");
}

BOOST_AUTO_TEST_CASE(other_exceptions_are_failures) {
    const auto r = report([]() -> int { throw std::runtime_error("boom"); });
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "tool: boom\n");
}

BOOST_AUTO_TEST_CASE(plain_error_is_reported_as_is) {
    const auto r = report([]() -> int { throw error("late"); });
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err == "tool: late\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fd)

BOOST_AUTO_TEST_CASE(closes_on_destruction) {
    const int raw = open_null();
    {
        const unique_fd fd(raw);
        BOOST_TEST(static_cast<bool>(fd));
        BOOST_TEST(fd.get() == raw);
    }
    BOOST_TEST(!is_open(raw));
}

BOOST_AUTO_TEST_CASE(empty_by_default) {
    const unique_fd fd;
    BOOST_TEST(!fd);
    BOOST_TEST(fd.get() == -1);
}

BOOST_AUTO_TEST_CASE(move_transfers_ownership) {
    const int raw = open_null();
    unique_fd a(raw);
    unique_fd b(std::move(a));
    BOOST_TEST(!a); // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    BOOST_TEST(b.get() == raw);

    const int other = open_null();
    unique_fd c(other);
    c = std::move(b); // closes other, takes raw
    BOOST_TEST(!is_open(other));
    BOOST_TEST(c.get() == raw);
    BOOST_TEST(is_open(raw));
}

BOOST_AUTO_TEST_CASE(explicit_close_reports_and_empties) {
    const int raw = open_null();
    unique_fd fd(raw);
    BOOST_TEST(fd.close() == 0);
    BOOST_TEST(!fd);
    BOOST_TEST(!is_open(raw));
    BOOST_TEST(fd.close() == 0); // a second close is a no-op
}

BOOST_AUTO_TEST_CASE(close_of_a_bad_descriptor_returns_its_errno) {
    const int raw = open_null();
    BOOST_REQUIRE(::close(raw) == 0);
    unique_fd fd(raw); // no longer open
    BOOST_TEST(fd.close() == EBADF);
    BOOST_TEST(!fd);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(parses_options_and_switches) {
    command_app c;
    const std::vector<std::string_view> args{"-v", "--name=x"};
    parse(*c.app, args);
    BOOST_TEST(c.verbose);
    BOOST_TEST(c.name.value_or("") == "x");
}

BOOST_AUTO_TEST_CASE(short_option_with_attached_or_separate_value) {
    for (const auto& args :
         {std::vector<std::string_view>{"-ny"}, std::vector<std::string_view>{"-n", "y"},
          std::vector<std::string_view>{"--name", "y"}}) {
        command_app c;
        parse(*c.app, args);
        BOOST_TEST(c.name.value_or("") == "y");
        BOOST_TEST(!c.verbose);
    }
}

BOOST_AUTO_TEST_CASE(no_help_flag_of_its_own) {
    command_app c;
    const auto e = parse_error(*c.app, {"--help"});
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->status() == exit_usage);
    BOOST_TEST(std::string{e->what()} == "The following argument was not expected: --help");
}

BOOST_AUTO_TEST_CASE(unknown_option_is_a_usage_error_naming_it) {
    command_app c;
    const auto e = parse_error(*c.app, {"--bogus"}, "cmd");
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->status() == exit_usage);
    BOOST_TEST(e->resource() == "cmd");
    BOOST_TEST(std::string{e->what()} == "cmd: The following argument was not expected: --bogus");
}

BOOST_AUTO_TEST_CASE(missing_value_names_the_option) {
    command_app c;
    const auto e = parse_error(*c.app, {"-v", "--name"}, "cmd");
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->status() == exit_usage);
    BOOST_TEST(std::string{e->what()} == "cmd: --name: 1 required NAME missing");
}

BOOST_AUTO_TEST_CASE(extra_arguments_in_the_order_given) {
    command_app c;
    auto e = parse_error(*c.app, {"extra"});
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->status() == exit_usage);
    BOOST_TEST(e->resource().empty());
    BOOST_TEST(std::string{e->what()} == "The following argument was not expected: extra");

    command_app d;
    e = parse_error(*d.app, {"a", "-v", "b", "--c"}, "cmd");
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(std::string{e->what()} == "cmd: The following arguments were not expected: a b --c");
}

BOOST_AUTO_TEST_CASE(switch_takes_no_value_and_only_once) {
    command_app c;
    auto e = parse_error(*c.app, {"--verbose=yes"});
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->status() == exit_usage);
    BOOST_TEST(std::string{e->what()} == "verbose was given a disallowed flag override");

    command_app d;
    e = parse_error(*d.app, {"-v", "--verbose"});
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(std::string{e->what()} == "--verbose: At Most 1 required but received 2");
}

BOOST_AUTO_TEST_CASE(option_only_once) {
    command_app c;
    const auto e = parse_error(*c.app, {"-n", "a", "--name", "b"});
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(std::string{e->what()} == "--name: At Most 1 required but received 2");
}

BOOST_AUTO_TEST_CASE(positionals_after_dash_dash) {
    const auto app = make_app("cmd");
    bool verbose = false;
    add_switch(*app, "-v", verbose);
    std::vector<std::string> operands;
    app->add_option("ARG", operands);
    const std::vector<std::string_view> args{"x", "-v", "--", "-v", "y"};
    parse(*app, args);
    BOOST_TEST(verbose);
    const std::vector<std::string> expected{"x", "-v", "y"};
    BOOST_TEST(operands == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(arguments_skip_the_program_name) {
    std::array<char, 5> prog{"tool"};
    std::array<char, 3> a{"-v"};
    std::array<char, 2> b{"x"};
    std::array<char*, 4> argv{prog.data(), a.data(), b.data(), nullptr};
    const auto args = arguments(3, argv.data());
    const std::vector<std::string_view> expected{"-v", "x"};
    BOOST_TEST(args == expected, boost::test_tools::per_element());
    BOOST_TEST(arguments(1, argv.data()).empty());
    BOOST_TEST(arguments(0, argv.data()).empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sysfs)

BOOST_AUTO_TEST_CASE(write_then_read_an_attribute) {
    const dibs::test::temp_dir tmp("tools-lib-test");
    const auto path = tmp.path() / "attr";
    spit(path, "old content\n");
    BOOST_TEST(write_attribute(path, "1 0x0010\n") == 0);
    BOOST_TEST(slurp(path) == "1 0x0010\n");
    BOOST_TEST(read_attribute(path, "t") == "1 0x0010");
}

BOOST_AUTO_TEST_CASE(write_to_a_missing_file_returns_the_errno) {
    const dibs::test::temp_dir tmp("tools-lib-test");
    BOOST_TEST(write_attribute(tmp.path() / "none" / "attr", "x") == ENOENT);
}

BOOST_AUTO_TEST_CASE(layout_below_a_root) {
    const sysfs_layout sysfs{"/r"};
    BOOST_TEST(sysfs.class_dir() == "/r/class/dibs");
    BOOST_TEST(sysfs.device_dir("dibs_lo0") == "/r/class/dibs/dibs_lo0");
    BOOST_TEST(sysfs.loopback_dir() == "/r/kernel/dibs_loopback");
    BOOST_TEST(sysfs.new_device() == "/r/kernel/dibs_loopback/new_device");
    BOOST_TEST(sysfs.del_device() == "/r/kernel/dibs_loopback/del_device");
}

BOOST_AUTO_TEST_CASE(root_from_the_environment_value) {
    BOOST_TEST(sysfs_layout::from_env(nullptr).root() == "/sys");
    BOOST_TEST(sysfs_layout::from_env("").root() == "/sys");
    BOOST_TEST(sysfs_layout::from_env("/tmp/x").root() == "/tmp/x");
}

BOOST_AUTO_TEST_SUITE_END()
