// SPDX-License-Identifier: GPL-2.0
//
// Unit tests of the SMC tools (library smc_tools, utils/smc) without a kernel: option parsing,
// user EIDs, fallback reasons, netlink messages and attributes parsed from hand-built buffers,
// smcd's and smcss's parsers and formatting, smc_run's arguments and environment. The last
// suite runs smc_run with tcp_echo natively: the host has no AF_SMC, so the preload library must
// fall back to TCP (or use AF_SMC where the host has it).
#define BOOST_TEST_MODULE smc_tools
#include "cli.hpp"
#include "netlink.hpp"
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

bytes attr(std::uint16_t type, const bytes& payload) {
    const nlattr hdr{static_cast<std::uint16_t>(NLA_HDRLEN + payload.size()), type};
    bytes b = raw(hdr);
    b.insert(b.end(), payload.begin(), payload.end());
    b.resize(NLA_ALIGN(b.size()));
    return b;
}

template <typename T>
bytes attr_of(std::uint16_t type, T value) {
    return attr(type, raw(value));
}

bytes attr_str(std::uint16_t type, std::string_view text) {
    bytes payload(text.size() + 1);
    std::memcpy(payload.data(), text.data(), text.size());
    return attr(type, payload);
}

bytes concat(std::initializer_list<bytes> parts) {
    bytes all;
    for (const auto& p : parts) {
        all.insert(all.end(), p.begin(), p.end());
    }
    return all;
}

bytes nest(std::uint16_t type, std::initializer_list<bytes> children) {
    return attr(static_cast<std::uint16_t>(type | NLA_F_NESTED), concat(children));
}

bytes message(std::uint16_t type, std::uint16_t flags, std::uint32_t seq, const bytes& payload) {
    nlmsghdr hdr{};
    hdr.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + payload.size());
    hdr.nlmsg_type = type;
    hdr.nlmsg_flags = flags;
    hdr.nlmsg_seq = seq;
    bytes b = raw(hdr);
    b.insert(b.end(), payload.begin(), payload.end());
    b.resize(NLMSG_ALIGN(b.size()));
    return b;
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

// ---- command line ------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(options)

constexpr std::array defs{option_def{'a', "all"}, option_def{'l', "listening"},
                          option_def{'r', "rcvbuf", true}};

BOOST_AUTO_TEST_CASE(bundled_flags_and_values) {
    const std::vector<std::string_view> args{"-al", "x", "--rcvbuf=64K", "y"};
    const auto o = parse_options("t", args, defs);
    BOOST_TEST(o.has("all"));
    BOOST_TEST(o.has("listening"));
    BOOST_TEST(*o.get("rcvbuf") == "64K");
    BOOST_TEST(o.operands == (std::vector<std::string_view>{"x", "y"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(value_forms) {
    for (const auto& args :
         {std::vector<std::string_view>{"-r", "1M"}, std::vector<std::string_view>{"-r1M"},
          std::vector<std::string_view>{"--rcvbuf", "1M"}}) {
        BOOST_TEST(*parse_options("t", args, defs).get("rcvbuf") == "1M");
    }
}

BOOST_AUTO_TEST_CASE(stop_at_operand_keeps_the_commands_options) {
    const std::vector<std::string_view> args{"-a", "cmd", "-l", "--all"};
    const auto o = parse_options("t", args, defs, true);
    BOOST_TEST(o.has("all"));
    BOOST_TEST(!o.has("listening"));
    BOOST_TEST(o.operands == (std::vector<std::string_view>{"cmd", "-l", "--all"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(double_dash_ends_options) {
    const std::vector<std::string_view> args{"--", "-a"};
    const auto o = parse_options("t", args, defs);
    BOOST_TEST(!o.has("all"));
    BOOST_TEST(o.operands.size() == 1U);
}

BOOST_DATA_TEST_CASE(
    errors,
    bdata::make({"-x", "--bogus", "-r", "--all=1", "-a -a", "--rcvbuf"}) ^
        bdata::make({"unknown option '-x'", "unknown option '--bogus'",
                     "option --rcvbuf needs a value", "option --all takes no value",
                     "option --all given more than once", "option --rcvbuf needs a value"}),
    line, message) {
    std::vector<std::string_view> args;
    std::string_view rest = line;
    while (!rest.empty()) {
        const auto sp = rest.find(' ');
        args.push_back(rest.substr(0, sp));
        rest = sp == std::string_view::npos ? "" : rest.substr(sp + 1);
    }
    try {
        (void)parse_options("ctx", args, defs);
        BOOST_FAIL("no error for " << line);
    } catch (const error& e) {
        BOOST_TEST(e.what() == "ctx: " + std::string{message});
        BOOST_TEST(e.status() == exit_usage);
    }
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
    const auto text = print([&](std::ostream& o) { smcd::print_sys_info(o, *info); });
    BOOST_TEST(text == "SMC version       2.0\n"
                       "ISM v2 capable    yes\n"
                       "SMC-R v2 capable  yes\n"
                       "Local host        dibs-vm\n"
                       "SEID              SEID-1\n");
    BOOST_TEST(!smcd::parse_sys_info(reply({})).has_value());
}

BOOST_AUTO_TEST_CASE(devices_with_dibs_attributes) {
    const auto dev = smcd::parse_device(reply(nest(
        SMC_GEN_DEV_SMCD,
        {attr_of<std::uint32_t>(SMC_NLA_DEV_USE_CNT, 2),
         attr_of<std::uint8_t>(SMC_NLA_DEV_IS_CRIT, 1),
         attr_of<std::uint32_t>(SMC_NLA_DEV_PCI_FID, 0),
         attr_of<std::uint16_t>(SMC_NLA_DEV_PCI_CHID, 0), attr_str(SMC_NLA_DEV_PCI_ID, "dibs_lo0"),
         nest(SMC_NLA_DEV_PORT, {attr_of<std::uint8_t>(SMC_NLA_DEV_PORT_PNET_USR, 0),
                                 attr_str(SMC_NLA_DEV_PORT_PNETID, "                ")})})));
    BOOST_REQUIRE(dev.has_value());
    BOOST_TEST(dev->pci_id == "dibs_lo0");
    BOOST_TEST(dev->use_count == 2U);
    BOOST_TEST(dev->critical);
    BOOST_TEST(dev->pnetid.empty());

    smcd::device gone = *dev;
    gone.pci_id = "ism0";
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
               "Name      Use  Crit  PCHID  PNET-ID  GID                                   Fabric  "
               "DMBs  Max-DMBs\n"
               "dibs_lo0  2    yes   0000   -        0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0  0xffff  "
               "2     5000\n"
               "ism0      2    yes   0000   -        -                                     -       "
               "-     -\n");
    BOOST_TEST(print([&](std::ostream& o) {
                   smcd::print_devices(o, {}, dibs::tools::sysfs_layout{root.path()});
               }) == "no SMC-D devices\n");
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
    BOOST_TEST(print([&](std::ostream& o) { smcd::print_linkgroups(o, groups); }) ==
               "LG-ID     GID               Peer-GID          VLAN  Conns  CHID  PNET-ID  Version  "
               "Peer-Host  EID\n"
               "00000100  f0b146198d7d40d3  f0b146198d7d40d3  0     1      ffff  -        2        "
               "dibs-vm    DIBS-RDMA-SMCD\n");
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

    const auto text = print([&](std::ostream& o) { smcd::print_stats(o, *st, fb); });
    BOOST_TEST(contains(text, "SMC-D\nconnections  2       client v1 0, client v2 1, server v1 0, "
                              "server v2 1\nrx_bytes     131072\n"));
    BOOST_TEST(contains(text, "Size        8K  16K  32K  64K  128K  256K  512K  1024K  >1024K\n"
                              "rx_payload  0   8    0    0    0     0     0     0      1\n"));
    BOOST_TEST(contains(text, "rx_rmb     2      0"));
    BOOST_TEST(contains(text, "handshake_errors  3  client 3, server 0\n"
                              "fallbacks         5  client 4, server 1\n"));
    BOOST_TEST(contains(text, "Side    Reason      Count  Text\n"
                              "server  0x05000000  1      peer declined during handshake\n"
                              "client  0x03030000  4      no SMC device found\n"));
}

BOOST_AUTO_TEST_CASE(ueid_dump) {
    BOOST_TEST(*smcd::parse_ueid(
                   reply(attr_str(SMC_NLA_EID_TABLE_ENTRY, "DIBS-RDMA-SMCD                  "))) ==
               "DIBS-RDMA-SMCD");
    BOOST_TEST(!smcd::parse_ueid(reply({})).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(smcd_command)

/// smcd's exit status, standard output and standard error for args.
struct result {
    int status;
    std::string out;
    std::string err;
};

result smcd_run(std::initializer_list<std::string_view> args) {
    std::ostringstream out;
    std::ostringstream err;
    smcd::context ctx(out, err);
    const std::vector<std::string_view> v(args);
    const int status = smcd::run(v, ctx);
    return {status, out.str(), err.str()};
}

BOOST_AUTO_TEST_CASE(usage_errors_before_any_kernel_access) {
    auto r = smcd_run({"bogus"});
    BOOST_TEST(r.status == exit_usage);
    BOOST_TEST(r.err == "smcd: unknown command 'bogus'\nTry 'smcd --help'.\n");
    r = smcd_run({"ueid", "add", "bad_name"});
    BOOST_TEST(r.status == exit_usage);
    BOOST_TEST(contains(r.err, "smcd: invalid user EID 'bad_name': bad character"));
    r = smcd_run({"ueid", "add"});
    BOOST_TEST(r.status == exit_usage);
    BOOST_TEST(contains(r.err, "usage: smcd ueid add NAME"));
    r = smcd_run({"ueid", "frob"});
    BOOST_TEST(r.status == exit_usage);
    r = smcd_run({"stats", "extra"});
    BOOST_TEST(r.status == exit_usage);
    BOOST_TEST(contains(r.err, "stats: unexpected argument 'extra'"));
    r = smcd_run({"--bogus"});
    BOOST_TEST(r.status == exit_usage);
}

BOOST_AUTO_TEST_CASE(help_and_version) {
    for (const auto* flag : {"-h", "--help", "help"}) {
        const auto r = smcd_run({flag});
        BOOST_TEST(r.status == exit_ok);
        BOOST_TEST(r.out == smcd::help_text());
    }
    BOOST_TEST(smcd_run({"ueid", "--help"}).out == smcd::help_text());
    BOOST_TEST(contains(smcd_run({"-V"}).out, "smcd (dibs-rdma) "));
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
    BOOST_TEST(contains(ext, "SMCD <->   00000001 00000000 0000ffe0 0000ffe0 0000:00000000"));
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
               "LISTEN         01000 0027466 [::1]:5000\n");
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
    BOOST_TEST(cut == "[fd00:1234:5678..:12345");
    BOOST_TEST(smcss::format_address(true, a, 12345, true) ==
               "[fd00:1234:5678:9abc:def0:1234:5678:9abc]:12345");
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

BOOST_AUTO_TEST_CASE(usage_errors) {
    for (const auto& args :
         {std::vector<std::string_view>{"-D", "-R"}, std::vector<std::string_view>{"-l", "-a"},
          std::vector<std::string_view>{"--bogus"}, std::vector<std::string_view>{"extra"}}) {
        std::ostringstream out;
        std::ostringstream err;
        smcss::context ctx(out, err);
        BOOST_TEST(smcss::run(args, ctx) == exit_usage);
        BOOST_TEST(contains(err.str(), "Try 'smcss --help'."));
        BOOST_TEST(out.str().empty());
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- help texts --------------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(man_page_sections,
                     bdata::make({smcd::help_text(), smcss::help_text(), run::help_text()}), text) {
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
