// SPDX-License-Identifier: GPL-2.0
//
// Unit tests of the SMC tools (library smc_tools, utils/smc) without a kernel: every command
// line of smcss, smcd, smc_run and smc_chk (smc-tools' spellings, bad input), user EIDs, fallback
// reasons, netlink messages and attributes parsed from buffers built with libmnl, smcd's and
// smcss's parsers and formatting, smc_run's arguments and environment. The last
// suite runs smc_run with tcp_echo natively: the host has no AF_SMC, so the preload library must
// fall back to TCP (or use AF_SMC where the host has it).
#define BOOST_TEST_MODULE smc_tools
#include "netlink.hpp"
#include "smc_chk.hpp"
#include "smc_common.hpp"
#include "smc_run.hpp"
#include "smcd.hpp"
#include "smcss.hpp"
#include "test_files.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/smc.h>
#include <linux/smc_diag.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bdata = boost::unit_test::data;
using namespace dibs::smc;
using dibs::test::contains;
using bytes = std::vector<std::byte>;

namespace {

// ---- hand-built netlink buffers ---------------------------------------------------------------

template <typename T>
bytes raw(const T& value) {
    bytes b(sizeof(T));
    std::memcpy(b.data(), &value, sizeof(T));
    return b;
}

/// A scratch netlink message for libmnl to write attributes into.
class scratch {
public:
    scratch() : buf_(65536), nlh_(mnl_nlmsg_put_header(buf_.data())) {}
    [[nodiscard]] nlmsghdr* nlh() const noexcept { return nlh_; }
    /// What was put after the header.
    [[nodiscard]] bytes payload() const {
        const auto* p = static_cast<const std::byte*>(mnl_nlmsg_get_payload(nlh_));
        return {p, p + mnl_nlmsg_get_payload_len(nlh_)};
    }

private:
    bytes buf_;
    nlmsghdr* nlh_;
};

/// One attribute as mnl_attr_put() writes it (payload padded to 4 bytes).
bytes attr(std::uint16_t type, const bytes& payload) {
    const scratch s;
    mnl_attr_put(s.nlh(), type, payload.size(), payload.data());
    return s.payload();
}

template <typename T>
bytes attr_of(std::uint16_t type, T value) {
    return attr(type, raw(value));
}

bytes attr_str(std::uint16_t type, std::string_view text) {
    const scratch s;
    mnl_attr_put_strz(s.nlh(), type, std::string{text}.c_str());
    return s.payload();
}

bytes concat(std::initializer_list<bytes> parts) {
    bytes all;
    for (const auto& p : parts) {
        all.insert(all.end(), p.begin(), p.end());
    }
    return all;
}

/// A nest (mnl_attr_nest_start/end) around children.
bytes nest(std::uint16_t type, std::initializer_list<bytes> children) {
    const scratch s;
    nlattr* start = mnl_attr_nest_start(s.nlh(), type);
    const bytes inner = concat(children);
    void* tail = mnl_nlmsg_put_extra_header(s.nlh(), inner.size());
    std::memcpy(tail, inner.data(), inner.size());
    mnl_attr_nest_end(s.nlh(), start);
    return s.payload();
}

/// A whole message (mnl_nlmsg_put_header, payload as the extra header).
bytes message(std::uint16_t type, std::uint16_t flags, std::uint32_t seq, const bytes& payload) {
    bytes buf(NLMSG_HDRLEN + NLMSG_ALIGN(payload.size()) + 16);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    void* p = mnl_nlmsg_put_extra_header(nlh, payload.size());
    std::memcpy(p, payload.data(), payload.size());
    buf.resize(NLMSG_ALIGN(nlh->nlmsg_len));
    return buf;
}

/// A generic netlink reply's attributes: what the smcd parsers get.
nl::attribute_set reply(const bytes& attrs) {
    static std::deque<bytes> keep; // the set refers into the buffer
    keep.push_back(attrs);
    return nl::attribute_set{keep.back()};
}

std::string print(auto&& fn) {
    std::ostringstream out;
    fn(out);
    return out.str();
}

} // namespace

// ---- command lines -----------------------------------------------------------------------------

using args_t = std::vector<std::string_view>;

/// args of a line split at blanks
args_t split(std::string_view line) {
    args_t args;
    while (!line.empty()) {
        const auto sp = line.find(' ');
        args.push_back(line.substr(0, sp));
        line = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    }
    return args;
}

struct result {
    int status;
    std::string out;
    std::string err;
};

template <typename Run>
result run_tool(std::string_view line, Run&& run) {
    std::ostringstream out;
    std::ostringstream err;
    const auto args = split(line);
    const int status = run(args, out, err);
    return {status, out.str(), err.str()};
}

result smcss_line(std::string_view line) {
    return run_tool(line, [](const args_t& a, std::ostream& o, std::ostream& e) {
        smcss::context ctx(o, e);
        return smcss::run(a, ctx);
    });
}

result smcd_line(std::string_view line) {
    return run_tool(line, [](const args_t& a, std::ostream& o, std::ostream& e) {
        smcd::context ctx(o, e);
        ctx.stats_file = "/nonexistent/smcd-stats";
        return smcd::run(a, ctx);
    });
}

result smc_chk_line(std::string_view line) {
    return run_tool(
        line, [](const args_t& a, std::ostream& o, std::ostream& e) { return chk::run(a, o, e); });
}

BOOST_AUTO_TEST_SUITE(smcss_command_line)

BOOST_DATA_TEST_CASE(
    smc_tools_options,
    bdata::make({"",        "-a",       "--all",        "-l",  "--listening", "-d",
                 "--debug", "-e",       "--extended",   "-D",  "--smcd",      "-R",
                 "--smcr",  "-W",       "--wide",       "-aD", "-adW",        "-a -a",
                 "-l -W",   "-R -d -a", "--all --debug"}),
    line) {
    BOOST_TEST_CONTEXT("smcss " << line) {
        const auto cl = smcss::parse_args(split(line));
        BOOST_TEST(!cl.help);
        const std::string l{line};
        const auto has = [&](std::string_view a, std::string_view b) {
            return contains(l, a) || contains(l, b);
        };
        BOOST_TEST(cl.opts.all == (has("-a", "--all") || contains(l, "-aD")));
        BOOST_TEST(cl.opts.listening == has("-l", "--listening"));
        BOOST_TEST(cl.opts.extended ==
                   (has("-d", "--debug") || has("-e", "--extended") || contains(l, "-adW")));
        BOOST_TEST(cl.opts.smcd == (has("-D", "--smcd") || contains(l, "-aD")));
        BOOST_TEST(cl.opts.smcr == has("-R", "--smcr"));
        BOOST_TEST(cl.opts.wide == (has("-W", "--wide") || contains(l, "adW")));
    }
}

BOOST_AUTO_TEST_CASE(help_and_version) {
    for (const auto* line : {"-h", "--help"}) {
        const auto r = smcss_line(line);
        BOOST_TEST(r.status == exit_ok);
        BOOST_TEST(r.out == smcss::help_text());
    }
    for (const auto* line : {"-v", "--version", "-V"}) {
        const auto r = smcss_line(line);
        BOOST_TEST(r.status == exit_ok);
        BOOST_TEST(contains(r.out, "smcss (dibs-rdma) "));
    }
}

BOOST_DATA_TEST_CASE(bad_lines,
                     bdata::make({"-D -R", "-l -a", "-l -d", "-l -D", "-l -R", "--bogus", "-x",
                                  "extra", "-a extra", "-aZ"}) ^
                         bdata::make({"--smcd together with --smcr is not supported",
                                      "--listening together with --all is not supported",
                                      "--listening together with --debug is not supported",
                                      "--listening together with --smcd is not supported",
                                      "--listening together with --smcr is not supported",
                                      "--bogus", "-x", "extra", "extra", "-Z"}),
                     line, message) {
    const auto r = smcss_line(line);
    BOOST_TEST(r.status == exit_usage);
    BOOST_TEST(contains(r.err, message), r.err);
    BOOST_TEST(contains(r.err, "Try 'smcss --help'."));
    BOOST_TEST(r.out.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(smcd_command_line)

/// line -> object, details, absolute, words
BOOST_DATA_TEST_CASE(
    objects_and_abbreviations,
    bdata::make({"",
                 "info",
                 "i",
                 "info show",
                 "device",
                 "dev",
                 "d",
                 "devices",
                 "device show all",
                 "dev s a",
                 "linkgroup",
                 "l",
                 "lgr",
                 "linkgroup show all",
                 "lgr 100",
                 "stats",
                 "s",
                 "st",
                 "stats show",
                 "stats reset",
                 "stats r",
                 "stats json",
                 "ueid",
                 "ueid show",
                 "u add X",
                 "ueid del X",
                 "ueid flush",
                 "seid",
                 "se",
                 "seid show",
                 "seid enable",
                 "seid disable",
                 "help",
                 "h"}) ^
        bdata::make({"info",      "info",      "info",      "info",   "device",    "device",
                     "device",    "device",    "device",    "device", "linkgroup", "linkgroup",
                     "linkgroup", "linkgroup", "linkgroup", "stats",  "stats",     "stats",
                     "stats",     "stats",     "stats",     "stats",  "ueid",      "ueid",
                     "ueid",      "ueid",      "ueid",      "seid",   "seid",      "seid",
                     "seid",      "seid",      "help",      "help"}),
    line, object) {
    BOOST_TEST_CONTEXT("smcd " << line) {
        const auto cl = smcd::parse_command_line(split(line));
        BOOST_TEST(cl.object == object);
        BOOST_TEST(cl.details == 0);
        BOOST_TEST(!cl.absolute);
        BOOST_TEST(!cl.version);
        const auto words = split(line);
        BOOST_TEST(cl.words.size() == (words.empty() ? 0 : words.size() - 1));
    }
}

BOOST_DATA_TEST_CASE(global_options,
                     bdata::make({"-d stats", "--details stats", "-det stats", "--det stats",
                                  "-details stats", "-dd stats", "-ddetails stats", "-a stats",
                                  "--absolute stats", "-abs stats", "-ad stats", "-da stats",
                                  "stats -d", "stats -a", "-- stats"}) ^
                         bdata::make({1, 1, 1, 1, 1, 2, 2, 0, 0, 0, 1, 1, 1, 0, 0}) ^
                         bdata::make({false, false, false, false, false, false, false, true, true,
                                      true, true, true, false, true, false}),
                     line, details, absolute) {
    BOOST_TEST_CONTEXT("smcd " << line) {
        const auto cl = smcd::parse_command_line(split(line));
        BOOST_TEST(cl.object == "stats");
        BOOST_TEST(cl.details == details);
        BOOST_TEST(cl.absolute == absolute);
    }
}

BOOST_AUTO_TEST_CASE(help_and_version) {
    for (const auto* line :
         {"-h", "--help", "-help", "help", "ueid --help", "device help", "stats -h", "lgr h"}) {
        const auto r = smcd_line(line);
        BOOST_TEST(r.status == exit_ok, line);
        BOOST_TEST(r.out == smcd::help_text(), line);
    }
    for (const auto* line : {"-v", "-V", "--version", "-vers", "-version"}) {
        const auto r = smcd_line(line);
        BOOST_TEST(r.status == exit_ok, line);
        BOOST_TEST(contains(r.out, "smcd (dibs-rdma) "), line);
    }
}

/// Spellings the parser accepts go on to the kernel: here (no smc module) an operational error.
BOOST_DATA_TEST_CASE(accepted_lines_reach_the_kernel,
                     bdata::make({"", "info show", "dev show all", "lgr all", "linkgroup 1f",
                                  "-d linkgroup", "stats", "-a stats reset", "stats json", "ueid",
                                  "ueid show", "seid", "seid enable", "seid disable",
                                  "ueid add OK.EID", "ueid del ok-eid", "ueid flush"}),
                     line) {
    const auto r = smcd_line(line);
    BOOST_TEST(r.status != exit_usage, line << ": " << r.err);
}

BOOST_DATA_TEST_CASE(bad_lines,
                     bdata::make({"bogus",
                                  "--bogus",
                                  "-x",
                                  "-d -x stats",
                                  "ueid add bad_name",
                                  "ueid add",
                                  "ueid add A B",
                                  "ueid frob",
                                  "stats extra",
                                  "stats show reset",
                                  "info all",
                                  "device all x",
                                  "linkgroup zz",
                                  "linkgroup 1 2",
                                  "seid frob",
                                  "seid show enable",
                                  "ueid show x",
                                  "ueid flush x",
                                  "ueid add A..B",
                                  "device --bogus"}) ^
                         bdata::make({"smcd: unknown command 'bogus'\n",
                                      "--bogus",
                                      "-x",
                                      "-x",
                                      "smcd: invalid user EID 'bad_name': bad character",
                                      "usage: smcd ueid add NAME",
                                      "usage: smcd ueid add NAME",
                                      "ueid: unknown subcommand 'frob'",
                                      "stats: unexpected argument 'extra'",
                                      "stats: unexpected argument 'reset'",
                                      "info: unexpected argument 'all'",
                                      "device: unexpected argument 'x'",
                                      "linkgroup: invalid LG-ID 'zz'",
                                      "linkgroup: unexpected argument '2'",
                                      "seid: unknown subcommand 'frob'",
                                      "seid: unexpected argument 'enable'",
                                      "ueid: unexpected argument 'x'",
                                      "ueid: unexpected argument 'x'",
                                      "consecutive dots",
                                      "--bogus"}),
                     line, message) {
    const auto r = smcd_line(line);
    BOOST_TEST(r.status == exit_usage, line);
    BOOST_TEST(contains(r.err, message), line << ": " << r.err);
    BOOST_TEST(contains(r.err, "Try 'smcd --help'."));
}

BOOST_AUTO_TEST_CASE(exact_unknown_command_message) {
    BOOST_TEST(smcd_line("bogus").err == "smcd: unknown command 'bogus'\nTry 'smcd --help'.\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(smc_chk_command_line)

BOOST_AUTO_TEST_CASE(modes) {
    auto s = chk::parse_args(split("-C 10.0.0.2"));
    BOOST_TEST((s.what == chk::mode::connect));
    BOOST_TEST(s.host == "10.0.0.2");
    BOOST_TEST(s.port == chk::default_port);
    s = chk::parse_args(split("--connect ::1 -p 5000 -6 -d -t 3"));
    BOOST_TEST((s.what == chk::mode::connect));
    BOOST_TEST(s.port == 5000U);
    BOOST_TEST(s.ipv6);
    BOOST_TEST(s.debug);
    BOOST_TEST(s.timeout_ms == 3000);
    s = chk::parse_args(split("127.0.0.1 7777"));
    BOOST_TEST((s.what == chk::mode::connect));
    BOOST_TEST(s.host == "127.0.0.1");
    BOOST_TEST(s.port == 7777U);
    s = chk::parse_args(split("-S -p 0"));
    BOOST_TEST((s.what == chk::mode::server));
    BOOST_TEST(s.port == 0U);
    s = chk::parse_args(split("--server --port 4000 --ipv6"));
    BOOST_TEST((s.what == chk::mode::server));
    BOOST_TEST(s.port == 4000U);
    BOOST_TEST((chk::parse_args(split("-l")).what == chk::mode::live));
    BOOST_TEST((chk::parse_args(split("--live-test -6")).what == chk::mode::live));
    BOOST_TEST((chk::parse_args(split("-h")).what == chk::mode::help));
    BOOST_TEST((chk::parse_args(split("--version")).what == chk::mode::version));
    BOOST_TEST(smc_chk_line("--help").out == chk::help_text());
    BOOST_TEST(contains(smc_chk_line("-v").out, "smc_chk (dibs-rdma) "));
}

BOOST_DATA_TEST_CASE(bad_lines,
                     bdata::make({"", "-C", "-C 1.2.3.4 -S", "-S -l", "host", "1.2.3.4 1 2",
                                  "-C nohost", "-C 1.2.3.4 -p 0", "-C 1.2.3.4 -p 70000",
                                  "-C 1.2.3.4 -p x", "-S -p -1", "-l -p 5", "-C 1.2.3.4 -t 0",
                                  "-C 1.2.3.4 -6", "--bogus", "-i eth0", "1.2.3.4 80 -p 81"}),
                     line) {
    const auto r = smc_chk_line(line);
    BOOST_TEST(r.status == exit_usage, line << ": " << r.err);
    BOOST_TEST(contains(r.err, "Try 'smc_chk --help'."));
}

BOOST_AUTO_TEST_CASE(verdicts) {
    BOOST_TEST(chk::judge(std::nullopt).status == chk::exit_no_connection);
    smcss::socket_info s;
    s.mode = SMC_DIAG_MODE_SMCD;
    auto v = chk::judge(s);
    BOOST_TEST(v.status == exit_ok);
    BOOST_TEST(v.text == "     Success, using SMC-D\n");
    s.mode = SMC_DIAG_MODE_SMCR;
    BOOST_TEST(chk::judge(s).status == chk::exit_not_smcd);
    s.mode = SMC_DIAG_MODE_FALLBACK_TCP;
    s.fallback = smc_diag_fallback{0x05000000, 0x03030000};
    v = chk::judge(s);
    BOOST_TEST(v.status == chk::exit_not_smcd);
    BOOST_TEST(v.text == "     Failed  (TCP fallback), reasons:\n"
                         "          Client: 0x05000000 peer declined during handshake\n"
                         "          Server: 0x03030000 no SMC device found\n");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- user EIDs ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(ueid)

BOOST_AUTO_TEST_CASE(normalized_to_uppercase_and_padded) {
    const auto eid = normalize_ueid("dibs-rdma.smcd1");
    BOOST_TEST(eid.size() == 32U);
    BOOST_TEST(eid == "DIBS-RDMA.SMCD1                 ");
    BOOST_TEST(normalize_ueid("0").size() == 32U);
    BOOST_TEST(normalize_ueid(std::string(32, 'A')) == std::string(32, 'A'));
}

BOOST_AUTO_TEST_CASE(attribute_is_32_characters_and_nul) {
    const auto a = ueid_attribute("x");
    BOOST_TEST(a.size() == 33U);
    BOOST_TEST(a[0] == 'X');
    BOOST_TEST(a[1] == ' ');
    BOOST_TEST(a[31] == ' ');
    BOOST_TEST(a[32] == '\0');
}

BOOST_DATA_TEST_CASE(invalid,
                     bdata::make({"", "-ABC", ".ABC", "A_B", "A B", "ÄB", "A/B",
                                  "123456789012345678901234567890123"}),
                     name) {
    try {
        (void)normalize_ueid(name);
        BOOST_FAIL("accepted " << name);
    } catch (const error& e) {
        BOOST_TEST(e.status() == exit_usage);
        BOOST_TEST(contains(e.what(), "invalid user EID"));
        BOOST_TEST(contains(e.what(), "1 to 32 characters A-Z, 0-9, '.' and '-'"));
    }
}

BOOST_AUTO_TEST_CASE(trim) {
    BOOST_TEST(trim_eid("ABC      ") == "ABC");
    BOOST_TEST(trim_eid(std::string_view{"AB C \0", 6}) == "AB C");
    BOOST_TEST(trim_eid("   ") == "");
    BOOST_TEST(trim_eid("") == "");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- fallback reasons and states ---------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(reasons)

BOOST_AUTO_TEST_CASE(table_of_linux_6_1) {
    const auto all = fallback_reasons();
    BOOST_TEST(all.size() == 33U); // SMC_CLC_DECL_* in net/smc/smc_clc.h of 6.1
    std::set<std::uint32_t> codes;
    for (const auto& r : all) {
        BOOST_TEST(codes.insert(r.code).second);
        BOOST_TEST(!r.text.empty());
    }
}

BOOST_DATA_TEST_CASE(
    decoded,
    bdata::make({0x03030000U, 0x03030008U, 0x05000000U, 0x03010000U, 0x09990003U}) ^
        bdata::make({"no SMC device found", "peer sent no UEID (no user EID configured)",
                     "peer declined during handshake", "peer did not indicate SMC",
                     "registering RDMA buffers failed"}),
    code, text) {
    BOOST_TEST(fallback_text(code) == text);
}

BOOST_AUTO_TEST_CASE(names_and_unknown) {
    BOOST_TEST(find_fallback_reason(0x03030000)->name == "NOSMCDEV");
    BOOST_TEST(find_fallback_reason(0x030d0000)->name == "MAX_DMB");
    BOOST_TEST(!find_fallback_reason(0x03030009).has_value());
    BOOST_TEST(!find_fallback_reason(0).has_value());
    BOOST_TEST(fallback_text(0x12345678) == "unknown reason");
}

BOOST_AUTO_TEST_CASE(states) {
    BOOST_TEST(smc_state_name(1) == "ACTIVE");
    BOOST_TEST(smc_state_name(2) == "INIT");
    BOOST_TEST(smc_state_name(10) == "LISTEN");
    BOOST_TEST(smc_state_name(24) == "APPFINCLOSEWAIT");
    BOOST_TEST(smc_state_name(27) == "PROCESSABORT");
    BOOST_TEST(smc_state_name(0x1f) == "0x1f?");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- netlink -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(netlink)

BOOST_AUTO_TEST_CASE(attributes) {
    const bytes buf = concat(
        {attr_of<std::uint8_t>(1, 7), attr_of<std::uint16_t>(2, 0x1234),
         attr_of<std::uint32_t>(3, 0xdeadbeef), attr_of<std::uint64_t>(4, 0x0123456789abcdefULL),
         attr_str(5, "dibs_lo0"), nest(6, {attr_of<std::uint32_t>(1, 42), attr_str(2, "in")})});
    const nl::attribute_set a(buf);
    BOOST_TEST(a.all().size() == 6U);
    BOOST_TEST(*a.uint(1) == 7U);
    BOOST_TEST(*a.uint(2) == 0x1234U);
    BOOST_TEST(*a.uint(3) == 0xdeadbeefU);
    BOOST_TEST(*a.uint(4) == 0x0123456789abcdefULL);
    BOOST_TEST(*a.string(5) == "dibs_lo0");
    BOOST_TEST(a.all()[5].type == 6U); // NLA_F_NESTED masked
    const auto inner = a.nested(6);
    BOOST_REQUIRE(inner.has_value());
    BOOST_TEST(*inner->uint(1) == 42U);
    BOOST_TEST(*inner->string(2) == "in");
    BOOST_TEST(!a.has(7));
    BOOST_TEST(!a.uint(7).has_value());
    BOOST_TEST(nl::attribute_set{bytes{}}.all().empty());
}

BOOST_AUTO_TEST_CASE(odd_integer_size_throws) {
    const bytes buf = attr(1, bytes(3));
    BOOST_CHECK_THROW((void)nl::attribute_set(buf).uint(1), error);
}

BOOST_AUTO_TEST_CASE(malformed_attributes_throw) {
    bytes overrun = attr_of<std::uint32_t>(1, 1);
    overrun[0] = std::byte{40}; // nla_len beyond the buffer
    BOOST_CHECK_THROW(nl::attribute_set{overrun}, error);
    bytes short_len = attr_of<std::uint32_t>(1, 1);
    short_len[0] = std::byte{2}; // shorter than the header
    BOOST_CHECK_THROW(nl::attribute_set{short_len}, error);
    BOOST_CHECK_THROW(nl::attribute_set{bytes(2)}, error); // trailing bytes
}

BOOST_AUTO_TEST_CASE(messages) {
    const bytes buf = concat({message(20, NLM_F_MULTI, 5, attr_str(1, "a")),
                              message(NLMSG_DONE, NLM_F_MULTI, 5, raw(0))});
    const auto msgs = nl::split_messages(buf);
    BOOST_REQUIRE(msgs.size() == 2U);
    BOOST_TEST(msgs[0].type == 20U);
    BOOST_TEST(msgs[0].seq == 5U);
    BOOST_TEST(*nl::attribute_set(msgs[0].payload).string(1) == "a");
    BOOST_TEST(msgs[1].type == NLMSG_DONE);
    bytes bad = message(20, 0, 1, bytes(4));
    bad[0] = std::byte{200};
    BOOST_CHECK_THROW((void)nl::split_messages(bad), error);
}

BOOST_AUTO_TEST_CASE(request_builder) {
    nl::request req(0x1c, 0);
    genlmsghdr genl{};
    genl.cmd = SMC_NETLINK_ADD_UEID;
    genl.version = 1;
    req.append_struct(genl);
    const auto eid = ueid_attribute("dibs-rdma-smcd");
    req.add_attribute(SMC_NLA_EID_TABLE_ENTRY, std::as_bytes(std::span{eid}));
    const auto out = req.finish(9);
    const auto msgs = nl::split_messages(out);
    BOOST_REQUIRE(msgs.size() == 1U);
    BOOST_TEST(msgs[0].type == 0x1cU);
    BOOST_TEST(msgs[0].seq == 9U);
    BOOST_TEST((msgs[0].flags & NLM_F_REQUEST) != 0);
    const auto attrs = nl::genl_attributes(msgs[0]);
    const auto entry = attrs.get(SMC_NLA_EID_TABLE_ENTRY);
    BOOST_REQUIRE(entry.has_value());
    BOOST_TEST(entry->size() == 33U); // what smc_nl_add_ueid() insists on
    BOOST_TEST(*attrs.string(SMC_NLA_EID_TABLE_ENTRY) == "DIBS-RDMA-SMCD                  ");
}

BOOST_AUTO_TEST_CASE(error_with_extended_ack) {
    nlmsgerr err{};
    err.error = -EINVAL;
    err.msg.nlmsg_len = NLMSG_HDRLEN;
    const bytes payload = concat({raw(err), attr_str(NLMSGERR_ATTR_MSG, "bad attribute")});
    const auto buf = message(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 1, payload);
    const auto info = nl::parse_error(nl::split_messages(buf).at(0));
    BOOST_TEST(info.error == EINVAL);
    BOOST_TEST(info.ext_message == "bad attribute");

    const auto ack = message(NLMSG_ERROR, NLM_F_CAPPED, 1, raw(nlmsgerr{}));
    BOOST_TEST(nl::parse_error(nl::split_messages(ack).at(0)).error == 0);
    const auto cut = message(NLMSG_ERROR, 0, 1, bytes(4));
    BOOST_CHECK_THROW((void)nl::parse_error(nl::split_messages(cut).at(0)), error);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- smcd --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(smcd_replies)

BOOST_AUTO_TEST_CASE(sys_info) {
    const auto info = smcd::parse_sys_info(reply(
        nest(SMC_GEN_SYS_INFO,
             {attr_of<std::uint8_t>(SMC_NLA_SYS_VER, 2), attr_of<std::uint8_t>(SMC_NLA_SYS_REL, 0),
              attr_of<std::uint8_t>(SMC_NLA_SYS_IS_ISM_V2, 1),
              attr_of<std::uint8_t>(SMC_NLA_SYS_IS_SMCR_V2, 1),
              attr_str(SMC_NLA_SYS_LOCAL_HOST, "dibs-vm                         "),
              attr_str(SMC_NLA_SYS_SEID, "SEID-1")})));
    BOOST_REQUIRE(info.has_value());
    const auto text = print([&](std::ostream& o) { smcd::print_sys_info(o, *info, 1, 0); });
    BOOST_TEST(text == "Kernel Capabilities\n"
                       "SMC Version:      2.0\n"
                       "SMC Hostname:     dibs-vm\n"
                       "SMC-D Features:   v1 v2\n"
                       "SMC-R Features:   v1 v2\n"
                       "\n"
                       "Hardware Capabilities\n"
                       "SEID:             SEID-1\n"
                       "ISM:              v1 v2\n"
                       "RoCE:             n/a\n");
    BOOST_TEST(contains(print([&](std::ostream& o) { smcd::print_sys_info(o, {}, 0, 0); }),
                        "SMC Version:      n/a\n"));
    BOOST_TEST(!smcd::parse_sys_info(reply({})).has_value());
}

BOOST_AUTO_TEST_CASE(devices_with_dibs_attributes) {
    const auto dev = smcd::parse_device(reply(nest(
        SMC_GEN_DEV_SMCD,
        {attr_of<std::uint32_t>(SMC_NLA_DEV_USE_CNT, 2),
         attr_of<std::uint8_t>(SMC_NLA_DEV_IS_CRIT, 1),
         attr_of<std::uint32_t>(SMC_NLA_DEV_PCI_FID, 0),
         attr_of<std::uint16_t>(SMC_NLA_DEV_PCI_CHID, 0), attr_str(SMC_NLA_DEV_PCI_ID, "dibs_lo0"),
         attr_of<std::uint16_t>(SMC_NLA_DEV_PCI_VENDOR, 0xffff),
         attr_of<std::uint16_t>(SMC_NLA_DEV_PCI_DEVICE, 0xd1b0),
         nest(SMC_NLA_DEV_PORT, {attr_of<std::uint8_t>(SMC_NLA_DEV_PORT_PNET_USR, 0),
                                 attr_str(SMC_NLA_DEV_PORT_PNETID, "                ")})})));
    BOOST_REQUIRE(dev.has_value());
    BOOST_TEST(dev->pci_id == "dibs_lo0");
    BOOST_TEST(dev->use_count == 2U);
    BOOST_TEST(dev->critical);
    BOOST_TEST(dev->pnetid.empty());
    BOOST_TEST(dev->pci_vendor == 0xffffU);
    BOOST_TEST(dev->pci_device == 0xd1b0U);

    smcd::device gone = *dev;
    gone.pci_id = "ism0";
    gone.pci_vendor = 0x1014;
    gone.pci_device = 0x04ed;
    gone.critical = false;
    gone.pnetid = "NET1";
    gone.pnetid_by_user = true;
    const dibs::test::temp_dir root("smc-tools");
    const auto dir = root.path() / "class/dibs/dibs_lo0";
    dibs::test::spit(dir / "gid", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n");
    dibs::test::spit(dir / "fabric_id", "0xffff\n");
    dibs::test::spit(dir / "dmbs", "2\n");
    dibs::test::spit(dir / "max_dmbs", "5000\n");
    const std::vector<smcd::device> devs{*dev, gone};
    const auto text = print([&](std::ostream& o) {
        smcd::print_devices(o, devs, dibs::tools::sysfs_layout{root.path()});
    });
    BOOST_TEST(text ==
               "FID   Type     PCI-ID    PCHID  InUse  #LGs  PNET-ID  GID                        "
               "           Fabric  DMBs  Max-DMBs\n"
               "0000  DIBS-LO  dibs_lo0  0000   Yes    2     -        0f1e2d3c-4b5a-6978-8796-a5b4"
               "c3d2e1f0  0xffff  2     5000\n"
               "0000  ISM      ism0      0000   No     2     *NET1    -                          "
               "           -       -     -\n");
    BOOST_TEST(print([&](std::ostream& o) {
                   smcd::print_devices(o, {}, dibs::tools::sysfs_layout{root.path()});
               }) == "no SMC-D devices\n");
}

BOOST_AUTO_TEST_CASE(device_types) {
    BOOST_TEST(smcd::device_type(0x1014, 0x04ed) == "ISM");
    BOOST_TEST(smcd::device_type(0xffff, 0xd1b5) == "DIBS");
    BOOST_TEST(smcd::device_type(0xffff, 0xd1b0) == "DIBS-LO");
    BOOST_TEST(smcd::device_type(0, 0) == "0x0000");
    BOOST_TEST(smcd::device_type(0x1014, 0x1016) == "0x1016");
}

BOOST_AUTO_TEST_CASE(linkgroups) {
    const auto g = smcd::parse_linkgroup(reply(
        nest(SMC_GEN_LGR_SMCD,
             {attr_of<std::uint32_t>(SMC_NLA_LGR_D_ID, 0x100),
              attr_of<std::uint64_t>(SMC_NLA_LGR_D_GID, 0xf0b146198d7d40d3ULL),
              attr_of<std::uint64_t>(SMC_NLA_LGR_D_PEER_GID, 0xf0b146198d7d40d3ULL),
              attr_of<std::uint8_t>(SMC_NLA_LGR_D_VLAN_ID, 0),
              attr_of<std::uint32_t>(SMC_NLA_LGR_D_CONNS_NUM, 1),
              attr_of<std::uint32_t>(SMC_NLA_LGR_D_CHID, 0xffff), // u32 on 6.1
              attr_str(SMC_NLA_LGR_D_PNETID, ""),
              nest(SMC_NLA_LGR_D_V2_COMMON,
                   {attr_of<std::uint8_t>(SMC_NLA_LGR_V2_VER, 2),
                    attr_of<std::uint8_t>(SMC_NLA_LGR_V2_REL, 0),
                    attr_of<std::uint8_t>(SMC_NLA_LGR_V2_OS, 2),
                    attr_str(SMC_NLA_LGR_V2_PEER_HOST, "dibs-vm                         "),
                    attr_str(SMC_NLA_LGR_V2_NEG_EID, "DIBS-RDMA-SMCD                  ")})})));
    BOOST_REQUIRE(g.has_value());
    BOOST_REQUIRE(g->v2.has_value());
    BOOST_TEST(g->v2->negotiated_eid == "DIBS-RDMA-SMCD");
    const std::vector<smcd::linkgroup> groups{*g};
    BOOST_TEST(
        print([&](std::ostream& o) { smcd::print_linkgroups(o, groups); }) ==
        "LG-ID     VLAN  #Conns  PNET-ID  GID               Peer-GID          CHID  Version  "
        "Peer-Host  EID\n"
        "00000100  0     1       -        f0b146198d7d40d3  f0b146198d7d40d3  ffff  2        "
        "dibs-vm    DIBS-RDMA-SMCD\n");
    BOOST_TEST(print([&](std::ostream& o) { smcd::print_linkgroups(o, groups, true); }) ==
               "LG-ID    : 00000100\n"
               "VLAN     : 0\n"
               "PNET-ID  : \n"
               "Version  : 2\n"
               "Peer-Rel : 0\n"
               "Peer-Host: dibs-vm\n"
               "Peer-OS  : LINUX\n"
               "EID      : DIBS-RDMA-SMCD\n"
               "#Conns   : 1\n"
               "GID      : f0b146198d7d40d3\n"
               "Peer-GID : f0b146198d7d40d3\n"
               "CHID     : ffff\n");
    BOOST_TEST(print([&](std::ostream& o) { smcd::print_linkgroups(o, {}); }) ==
               "no SMC-D link groups\n");
}

BOOST_AUTO_TEST_CASE(stats_and_fallbacks) {
    const auto st = smcd::parse_stats(reply(nest(
        SMC_GEN_STATS,
        {nest(SMC_NLA_STATS_SMCD_TECH,
              {nest(SMC_NLA_STATS_T_RXPLOAD_SIZE,
                    {attr_of<std::uint64_t>(SMC_NLA_STATS_PLOAD_16K, 8),
                     attr_of<std::uint64_t>(SMC_NLA_STATS_PLOAD_G_1024K, 1)}),
               nest(SMC_NLA_STATS_T_RX_RMB_STATS,
                    {attr_of<std::uint64_t>(SMC_NLA_STATS_RMB_ALLOC_CNT, 2)}),
               attr_of<std::uint64_t>(SMC_NLA_STATS_T_CLNT_V2_SUCC, 1),
               attr_of<std::uint64_t>(SMC_NLA_STATS_T_SRV_V2_SUCC, 1),
               attr_of<std::uint64_t>(SMC_NLA_STATS_T_RX_BYTES, 131072)}),
         nest(SMC_NLA_STATS_SMCR_TECH, {attr_of<std::uint64_t>(SMC_NLA_STATS_T_CLNT_V1_SUCC, 9)}),
         attr_of<std::uint64_t>(SMC_NLA_STATS_CLNT_HS_ERR_CNT, 3)})));
    BOOST_REQUIRE(st.has_value());
    BOOST_TEST(st->smcd.connections() == 2U); // SMC-R's are not counted
    BOOST_TEST(st->smcd.rx_payload[1] == 8U);
    BOOST_TEST(st->smcd.rx_payload[8] == 1U);
    BOOST_TEST(st->smcd.rx_rmb.alloc == 2U);
    BOOST_TEST(st->client_handshake_errors == 3U);

    smcd::fallback_stats fb;
    smcd::add_fallback_reply(
        reply(nest(SMC_GEN_FBACK_STATS,
                   {attr_of<std::uint8_t>(SMC_NLA_FBACK_STATS_TYPE, 1),
                    attr_of<std::uint64_t>(SMC_NLA_FBACK_STATS_SRV_CNT, 1),
                    attr_of<std::uint64_t>(SMC_NLA_FBACK_STATS_CLNT_CNT, 4),
                    attr_of<std::uint32_t>(SMC_NLA_FBACK_STATS_RSN_CODE, 0x05000000),
                    attr_of<std::uint16_t>(SMC_NLA_FBACK_STATS_RSN_CNT, 1)})),
        fb);
    smcd::add_fallback_reply(
        reply(nest(SMC_GEN_FBACK_STATS,
                   {attr_of<std::uint8_t>(SMC_NLA_FBACK_STATS_TYPE, 0),
                    attr_of<std::uint32_t>(SMC_NLA_FBACK_STATS_RSN_CODE, 0x03030000),
                    attr_of<std::uint16_t>(SMC_NLA_FBACK_STATS_RSN_CNT, 4)})),
        fb);
    BOOST_TEST(fb.server_total == 1U);
    BOOST_TEST(fb.client_total == 4U);
    BOOST_REQUIRE(fb.entries.size() == 2U);
    BOOST_TEST(fb.entries[1].count == 4U);

    const smcd::stats_snapshot snap{*st, fb};
    const auto text = print([&](std::ostream& o) { smcd::print_stats(o, snap); });
    BOOST_TEST(contains(text, "SMC-D Connections Summary\n"
                              "  Total connections handled            10\n"
                              "  SMC connections                       2\n"
                              "  Handshake errors                      3\n"
                              "  Avg requests per SMC conn             0.0\n"
                              "  TCP fallback                          5\n"),
               text);
    BOOST_TEST(contains(text, "RX Stats\n"
                              "  Data transmitted (Bytes)         131072 (131K)\n"),
               text);
    BOOST_TEST(contains(text, "            8KB    16KB    32KB    64KB   128KB   256KB   512KB  "
                              ">512KB\n"
                              "  Bufs        0       0       0       0       0       0       0  "
                              "     0\n"
                              "  Reqs        0       8       0       0       0       0       0  "
                              "     1\n"),
               text);
    BOOST_TEST(!contains(text, "NOSMCDEV"));
    const auto details = print([&](std::ostream& o) { smcd::print_stats(o, snap, true); });
    BOOST_TEST(contains(details,
                        "  SMC connections                       2 (client 1, server 1)\n"
                        "    v1                                  0\n"
                        "    v2                                  2\n"
                        "  Handshake errors                      3 (client 3, server 0)\n"),
               details);
    BOOST_TEST(contains(details, "  TCP fallback                          5 (client 4, server 1)\n"
                                 "    Server\n"
                                 "     PEERDECL                           1  0x05000000 (peer "
                                 "declined during handshake)\n"
                                 "    Client\n"
                                 "     NOSMCDEV                           4  0x03030000 (no SMC "
                                 "device found)\n"),
               details);
}

BOOST_AUTO_TEST_CASE(stats_since_reset) {
    smcd::stats_snapshot base;
    base.counters.smcd.client_v2 = 1;
    base.counters.smcd.rx_payload[2] = 5;
    base.fallbacks.client_total = 1;
    base.fallbacks.entries.push_back({false, 0x03030000, 1});
    smcd::stats_snapshot now = base;
    now.counters.smcd.client_v2 = 3;
    now.counters.smcd.rx_payload[2] = 7;
    now.fallbacks.client_total = 2;
    now.fallbacks.entries[0].count = 2;
    now.fallbacks.entries.push_back({true, 0x05000000, 1});
    const auto round = smcd::from_json(smcd::to_json(now));
    BOOST_TEST(round.counters.smcd.client_v2 == 3U);
    BOOST_TEST(round.fallbacks.entries.size() == 2U);
    const auto d = smcd::since(now, base);
    BOOST_REQUIRE(d.has_value());
    BOOST_TEST(d->counters.smcd.client_v2 == 2U);
    BOOST_TEST(d->counters.smcd.rx_payload[2] == 2U);
    BOOST_TEST(d->fallbacks.client_total == 1U);
    BOOST_REQUIRE(d->fallbacks.entries.size() == 2U);
    BOOST_TEST(d->fallbacks.entries[0].count == 1U);
    BOOST_TEST(!smcd::since(base, now).has_value()); // the module was reloaded: stale
    BOOST_CHECK_THROW((void)smcd::from_json("{\"x\":"), error);
}

BOOST_AUTO_TEST_CASE(seid_entry) {
    const auto seid = smcd::parse_seid(
        reply(concat({attr_str(SMC_NLA_SEID_ENTRY, "DIBS-SMCD-SEID-LINUX-X86-1.0-001"),
                      attr_of<std::uint8_t>(SMC_NLA_SEID_ENABLED, 1)})));
    BOOST_REQUIRE(seid.has_value());
    BOOST_TEST(print([&](std::ostream& o) { smcd::print_seid(o, seid); }) ==
               "DIBS-SMCD-SEID-LINUX-X86-1.0-001 [enabled]\n");
    BOOST_TEST(print([&](std::ostream& o) {
                   smcd::print_seid(o, smcd::seid_info{"X", false});
               }) == "X [disabled]\n");
    BOOST_TEST(!smcd::parse_seid(reply({})).has_value());
    BOOST_TEST(print([&](std::ostream& o) { smcd::print_seid(o, std::nullopt); }) == "n/a\n");
}

BOOST_AUTO_TEST_CASE(ueid_dump) {
    BOOST_TEST(*smcd::parse_ueid(
                   reply(attr_str(SMC_NLA_EID_TABLE_ENTRY, "DIBS-RDMA-SMCD                  "))) ==
               "DIBS-RDMA-SMCD");
    BOOST_TEST(!smcd::parse_ueid(reply({})).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// ---- smcss -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(smcss_sockets)

/// A SOCK_DIAG_BY_FAMILY reply payload: struct smc_diag_msg and attributes.
bytes diag_msg(std::uint8_t state, std::uint8_t mode, const char* src, const char* dst,
               std::uint16_t sport, std::uint16_t dport, const bytes& attrs, bool v6 = false) {
    smc_diag_msg m{};
    m.diag_family = 43;
    m.diag_state = state;
    m.diag_mode = mode;
    m.id.idiag_sport = htons(sport);
    m.id.idiag_dport = htons(dport);
    m.diag_uid = 1000;
    m.diag_inode = 27466;
    BOOST_REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, src, m.id.idiag_src) == 1);
    BOOST_REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, dst, m.id.idiag_dst) == 1);
    bytes b = raw(m);
    b.resize(NLMSG_ALIGN(b.size()));
    b.insert(b.end(), attrs.begin(), attrs.end());
    return b;
}

BOOST_AUTO_TEST_CASE(smcd_socket) {
    smc_diag_conninfo conn{};
    conn.token = 1;
    conn.rmbe_size = 65504;
    conn.peer_rmbe_size = 65504;
    smcd_diag_dmbinfo dmb{};
    dmb.linkid = 0x100;
    dmb.my_gid = 0xf0b146198d7d40d3ULL;
    dmb.peer_gid = 0xf0b146198d7d40d3ULL;
    dmb.token = 0x6aadfff90df803e2ULL;
    dmb.peer_token = 0x276cc7c8e2411e99ULL;
    const bytes payload =
        diag_msg(1, SMC_DIAG_MODE_SMCD, "127.0.0.1", "127.0.0.1", 37295, 35034,
                 concat({attr_of<std::uint8_t>(SMC_DIAG_SHUTDOWN, 0),
                         attr(SMC_DIAG_FALLBACK, raw(smc_diag_fallback{})),
                         attr(SMC_DIAG_CONNINFO, raw(conn)), attr(SMC_DIAG_DMBINFO, raw(dmb))}));
    const auto s = smcss::parse_socket(payload);
    BOOST_TEST(!s.ipv6);
    BOOST_TEST(s.sport == 37295U);
    BOOST_TEST(s.uid == 1000U);
    BOOST_TEST(s.conn.has_value());
    BOOST_TEST(s.dmb.has_value());
    BOOST_TEST(smcss::mode_text(s) == "SMCD");

    smcss::options opts;
    BOOST_TEST(print([&](std::ostream& o) { smcss::print_socket(o, s, opts); }) ==
               "ACTIVE         01000 0027466 127.0.0.1:37295         127.0.0.1:35034         0000 "
               "SMCD\n");
    opts.smcd = true;
    BOOST_TEST(print([&](std::ostream& o) { smcss::print_socket(o, s, opts); }) ==
               "ACTIVE         01000 0027466 127.0.0.1:37295         127.0.0.1:35034         0000 "
               "SMCD f0b146198d7d40d3 6aadfff90df803e2 f0b146198d7d40d3 276cc7c8e2411e99 00000100 "
               "65504    65504\n");
    opts = {};
    opts.extended = true;
    const auto ext = print([&](std::ostream& o) { smcss::print_socket(o, s, opts); });
    BOOST_TEST(ext ==
               "ACTIVE         01000 0027466 127.0.0.1:37295         127.0.0.1:35034         "
               "0000 SMCD  <->  00000001 00000000 0000ffe0 0000ffe0 0000:00000000 "
               "0000:00000000 00:00   0000:00000000 0000:00000000 00:00   0000:00000000 "
               "0000:00000000 0000:00000000\n");
    opts.extended = false;
    const auto closed = smcss::parse_socket(
        diag_msg(7, SMC_DIAG_MODE_SMCD, "127.0.0.1", "127.0.0.1", 37295, 35034, {}));
    BOOST_TEST(
        print([&](std::ostream& o) { smcss::print_socket(o, closed, opts); }) ==
        "CLOSED         01000 0027466 127.0.0.1:37295         127.0.0.1:35034         0000\n");
}

BOOST_AUTO_TEST_CASE(fallback_socket) {
    const bytes client =
        diag_msg(1, SMC_DIAG_MODE_FALLBACK_TCP, "127.0.0.1", "127.0.0.1", 44498, 37037,
                 attr(SMC_DIAG_FALLBACK, raw(smc_diag_fallback{0x03030000, 0})));
    const bytes server =
        diag_msg(1, SMC_DIAG_MODE_FALLBACK_TCP, "127.0.0.1", "127.0.0.1", 37037, 44498,
                 attr(SMC_DIAG_FALLBACK, raw(smc_diag_fallback{0x05000000, 0x03030000})));
    const smcss::options opts;
    BOOST_TEST(print([&](std::ostream& o) {
                   smcss::print_socket(o, smcss::parse_socket(client), opts);
               }) == "ACTIVE         01000 0027466 127.0.0.1:44498         127.0.0.1:37037         "
                     "0000 TCP 0x03030000 (no SMC device found)\n");
    const auto srv = smcss::parse_socket(server);
    BOOST_TEST(smcss::mode_text(srv) == "TCP 0x05000000/0x03030000");
    BOOST_TEST(contains(print([&](std::ostream& o) { smcss::print_socket(o, srv, opts); }),
                        "(peer declined during handshake; peer: no SMC device found)\n"));
}

BOOST_AUTO_TEST_CASE(listen_init_and_ipv6) {
    const smcss::options opts;
    const auto listen = smcss::parse_socket(diag_msg(10, 0, "::1", "::", 5000, 0, {}, true));
    BOOST_TEST(listen.ipv6);
    BOOST_TEST(print([&](std::ostream& o) { smcss::print_socket(o, listen, opts); }) ==
               "LISTEN         01000 0027466 ::1:5000\n");
    const auto init = smcss::parse_socket(diag_msg(2, 0, "0.0.0.0", "0.0.0.0", 0, 0, {}));
    BOOST_TEST(print([&](std::ostream& o) { smcss::print_socket(o, init, opts); }) ==
               "INIT           01000 0027466\n");
    BOOST_TEST(smcss::mode_text(init) == "SMCR");
}

BOOST_AUTO_TEST_CASE(addresses) {
    std::array<std::uint8_t, 16> a{};
    BOOST_REQUIRE(inet_pton(AF_INET, "10.1.2.3", a.data()) == 1);
    BOOST_TEST(smcss::format_address(false, a, 80, false) == "10.1.2.3:80");
    BOOST_REQUIRE(inet_pton(AF_INET6, "fd00:1234:5678:9abc:def0:1234:5678:9abc", a.data()) == 1);
    const auto cut = smcss::format_address(true, a, 12345, false);
    BOOST_TEST(cut.size() == 23U);
    BOOST_TEST(cut == "fd00:1234:5678:..:12345");
    BOOST_TEST(smcss::format_address(true, a, 12345, true) ==
               "fd00:1234:5678:9abc:def0:1234:5678:9abc:12345");
}

BOOST_AUTO_TEST_CASE(headers_as_smc_tools) {
    smcss::options opts;
    const auto header = [&] {
        return print([&](std::ostream& o) { smcss::print_header(o, opts); });
    };
    BOOST_TEST(header() == "State          UID   Inode   Local Address           Peer Address     "
                           "       Intf Mode\n");
    opts.extended = true;
    BOOST_TEST(contains(header(), "Intf Mode Shutd Token    Sndbuf   Rcvbuf   Peerbuf  "
                                  "rxprod-Cursor rxcons-Cursor rxFlags txprod-Cursor "
                                  "txcons-Cursor txFlags txprep-Cursor txsent-Cursor "
                                  "txfin-Cursor\n"));
    opts = {};
    opts.smcr = true;
    BOOST_TEST(contains(header(), "Intf Mode Role IB-device       Port Linkid GID      "
                                  "                                Peer-GID\n"));
    opts = {};
    opts.smcd = true;
    BOOST_TEST(contains(header(), "Intf Mode GID              Token            Peer-GID         "
                                  "Peer-Token       Linkid   RMBE     Peer-RMBE\n"));
}

BOOST_AUTO_TEST_CASE(short_reply_throws) {
    BOOST_CHECK_THROW((void)smcss::parse_socket(bytes(10)), error);
}

BOOST_AUTO_TEST_CASE(selection_rules) {
    smcss::socket_info s;
    const auto with = [](auto change) {
        smcss::options o;
        change(o);
        return o;
    };
    const auto none = [](smcss::options&) {};
    s.state = 1;
    s.mode = SMC_DIAG_MODE_SMCD;
    BOOST_TEST(smcss::selected(s, {}));
    BOOST_TEST(!smcss::selected(s, with([](auto& o) { o.listening = true; })));
    BOOST_TEST(smcss::selected(s, with([](auto& o) { o.smcd = true; })));
    BOOST_TEST(!smcss::selected(s, with([](auto& o) { o.smcr = true; })));
    s.state = 10;
    BOOST_TEST(!smcss::selected(s, with(none)));
    BOOST_TEST(smcss::selected(s, with([](auto& o) { o.all = true; })));
    BOOST_TEST(smcss::selected(s, with([](auto& o) { o.listening = true; })));
    s.state = 2;
    BOOST_TEST(!smcss::selected(s, with(none)));
    s.state = 20;
    s.mode = SMC_DIAG_MODE_FALLBACK_TCP;
    BOOST_TEST(smcss::selected(s, with(none)));
    BOOST_TEST(!smcss::selected(s, with([](auto& o) { o.smcd = true; })));

    BOOST_TEST(smcss::diag_ext(with(none)) == 0U);
    BOOST_TEST(smcss::diag_ext(with([](auto& o) { o.smcd = true; })) ==
               ((1U << (SMC_DIAG_CONNINFO - 1)) | (1U << (SMC_DIAG_DMBINFO - 1))));
    BOOST_TEST(smcss::diag_ext(with([](auto& o) { o.smcr = true; })) ==
               (1U << (SMC_DIAG_LGRINFO - 1)));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- help texts --------------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(man_page_sections,
                     bdata::make({smcd::help_text(), smcss::help_text(), run::help_text(),
                                  chk::help_text()}),
                     text) {
    for (const auto* section : {"NAME\n", "\nSYNOPSIS\n", "\nDESCRIPTION\n", "\nOPTIONS\n",
                                "\nEXIT STATUS\n", "\nEXAMPLES\n"}) {
        BOOST_TEST(contains(text, section), "missing " << section);
    }
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto line = rest.substr(0, rest.find('\n'));
        BOOST_TEST(line.size() <= 120U, "long line: " << line);
        rest = rest.substr(std::min(rest.size(), line.size() + 1));
    }
}

// ---- smc_run -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(smc_run_args)

BOOST_AUTO_TEST_CASE(options_end_at_the_command) {
    const std::vector<std::string_view> args{"-d", "-r", "64K", "--sndbuf=1M", "srv", "-d", "-x"};
    const auto s = run::parse_args(args);
    BOOST_TEST(s.debug);
    BOOST_TEST(*s.rcvbuf == 65536U);
    BOOST_TEST(*s.sndbuf == 1048576U);
    BOOST_TEST(s.command == (std::vector<std::string_view>{"srv", "-d", "-x"}),
               boost::test_tools::per_element());
    const std::vector<std::string_view> dashdash{"--", "-weird-name"};
    BOOST_TEST(run::parse_args(dashdash).command.front() == "-weird-name");
    BOOST_TEST(!run::parse_args(std::vector<std::string_view>{"ls"}).debug);
}

BOOST_AUTO_TEST_CASE(errors) {
    for (const auto& args : {std::vector<std::string_view>{}, std::vector<std::string_view>{"-d"},
                             std::vector<std::string_view>{"-x", "ls"},
                             std::vector<std::string_view>{"-r", "12Q", "ls"},
                             std::vector<std::string_view>{"-t", "0", "ls"}}) {
        BOOST_CHECK_EXCEPTION((void)run::parse_args(args), error,
                              [](const error& e) { return e.status() == exit_usage; });
    }
    BOOST_TEST(run::parse_args(std::vector<std::string_view>{"-h"}).help);
}

BOOST_DATA_TEST_CASE(sizes,
                     bdata::make({"1", "65536", "64K", "64k", "1M", "2047M", "2147483647"}) ^
                         bdata::make({1U, 65536U, 65536U, 65536U, 1048576U, 2146435072U,
                                      2147483647U}),
                     text, value) {
    BOOST_TEST(*run::parse_size(text) == value);
}

BOOST_DATA_TEST_CASE(bad_sizes,
                     bdata::make({"", "0", "K", "-1", "1G", "2048M", "2147483648", "1.5M", " 1"}),
                     text) {
    BOOST_TEST(!run::parse_size(text).has_value());
}

BOOST_AUTO_TEST_CASE(value_forms_and_repeats) {
    for (const auto* line :
         {"-r 1M ls", "-r1M ls", "--rcvbuf 1M ls", "--rcvbuf=1M ls", "-d -r 1M ls", "-dr 1M ls"}) {
        BOOST_TEST(*run::parse_args(split(line)).rcvbuf == 1048576U, line);
    }
    BOOST_TEST(*run::parse_args(split("-t 64k ls")).sndbuf == 65536U);
    BOOST_TEST(*run::parse_args(split("--sndbuf=2M ls")).sndbuf == 2097152U);
    BOOST_TEST(run::parse_args(split("-d -d ls")).debug);
    BOOST_TEST(run::parse_args(split("--debug ls")).debug);
    for (const auto* line : {"-v", "-V", "--version"}) {
        BOOST_TEST(run::parse_args(split(line)).version, line);
    }
    BOOST_TEST(run::parse_args(split("--help")).help);
    for (const auto* line : {"-r", "--rcvbuf", "-t", "-r 1M", "--bogus ls", "-r 1M -x ls"}) {
        BOOST_CHECK_EXCEPTION((void)run::parse_args(split(line)), error,
                              [](const error& e) { return e.status() == exit_usage; });
    }
}

BOOST_AUTO_TEST_CASE(preload_location) {
    BOOST_TEST(run::preload_path("/opt/x/bin/smc_run", nullptr) == "/opt/x/bin/libsmc-preload.so");
    BOOST_TEST(run::preload_path("/opt/x/bin/smc_run", "") == "/opt/x/bin/libsmc-preload.so");
    BOOST_TEST(run::preload_path("/opt/x/bin/smc_run", "/l/p.so") == "/l/p.so");
}

BOOST_AUTO_TEST_CASE(ld_preload_prepended_once) {
    BOOST_TEST(run::prepend_preload("", "/l/p.so") == "/l/p.so");
    BOOST_TEST(run::prepend_preload("a.so", "/l/p.so") == "/l/p.so:a.so");
    BOOST_TEST(run::prepend_preload("a.so:/l/p.so b.so", "/l/p.so") == "/l/p.so:a.so:b.so");
    BOOST_TEST(run::prepend_preload("::/l/p.so::", "/l/p.so") == "/l/p.so");
}

BOOST_AUTO_TEST_CASE(environment) {
    run::settings s;
    s.debug = true;
    s.rcvbuf = 65536;
    const auto env = run::environment(s, "/l/p.so", "x.so");
    using kv = std::pair<std::string, std::string>;
    BOOST_TEST(env.size() == 3U);
    BOOST_TEST((env.at(0) == kv{"LD_PRELOAD", "/l/p.so:x.so"}));
    BOOST_TEST((env.at(1) == kv{"SMC_DEBUG", "1"}));
    BOOST_TEST((env.at(2) == kv{"SMC_RCVBUF", "65536"}));
    BOOST_TEST((run::environment({}, "/l/p.so", nullptr).at(1) == kv{"SMC_DEBUG", "0"}));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- smc_run natively --------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(smc_run_native)

/// An echo over 127.0.0.1 with server and client under smc_run -d; where the host has no AF_SMC
/// (socket() fails with EAFNOSUPPORT) the preload library must fall back to TCP.
BOOST_AUTO_TEST_CASE(echo_with_fallback_or_smc) {
    const dibs::test::temp_dir dir("smc-run");
    const std::string script = R"(
S=$1 E=$2 D=$3
"$S" -d "$E" server 0 >"$D/srv.out" 2>"$D/srv.err" &
i=0
while ! grep -q '^listening ' "$D/srv.out"; do
	i=$((i + 1)); [ $i -lt 200 ] || exit 90; sleep 0.05
done
P=$(awk '{ print $2; exit }' "$D/srv.out")
"$S" -d -r 128K "$E" client -n 100000 127.0.0.1 "$P" >"$D/cli.out" 2>"$D/cli.err" || exit 91
wait $! || exit 92
)";
    dibs::test::spit(dir.path() / "run.sh", script);
    const std::string cmd = "sh '" + (dir.path() / "run.sh").string() + "' '" SMC_RUN_PATH "' '" +
                            TCP_ECHO_PATH "' '" + dir.path().string() + "'";
    BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0); // NOLINT(*-mt-unsafe)
    BOOST_TEST(dibs::test::slurp(dir.path() / "cli.out") == "echoed 100000 bytes\n");

    const int probe = ::socket(43, SOCK_STREAM, 0);
    const bool have_smc = probe >= 0;
    if (have_smc) {
        ::close(probe);
    }
    for (const auto* side : {"srv.err", "cli.err"}) {
        const auto log = dibs::test::slurp(dir.path() / side);
        BOOST_TEST_MESSAGE(side << ": " << log);
        BOOST_TEST(contains(log, "smc_run["));
        if (have_smc) {
            BOOST_TEST(contains(log, "socket(AF_INET, SOCK_STREAM) -> AF_SMC fd "));
        } else {
            BOOST_TEST(contains(log, "socket(AF_SMC) failed: "));
            BOOST_TEST(contains(log, "; falling back to AF_INET fd "));
        }
    }
}

BOOST_AUTO_TEST_CASE(missing_library_and_command) {
    const std::string missing =
        "SMC_RUN_PRELOAD=/nonexistent/libsmc-preload.so '" SMC_RUN_PATH "' true 2>/dev/null";
    BOOST_TEST(WEXITSTATUS(std::system(missing.c_str())) == exit_failure); // NOLINT(*-mt-unsafe)
    const std::string nocmd = "'" SMC_RUN_PATH "' /nonexistent/cmd 2>/dev/null";
    BOOST_TEST(WEXITSTATUS(std::system(nocmd.c_str())) == run::exit_not_found); // NOLINT
    const std::string ok = "'" SMC_RUN_PATH "' sh -c 'case $LD_PRELOAD in /*/libsmc-preload.so) "
                           "exit 0;; esac; exit 1'";
    BOOST_TEST(std::system(ok.c_str()) == 0); // NOLINT(*-mt-unsafe)
}

BOOST_AUTO_TEST_SUITE_END()
