// SPDX-License-Identifier: GPL-2.0
//
// Unit tests of dibsctl (library dibsctl_lib), run in-process against a fake sysfs tree in a
// temporary directory. Kernel behaviour (creating a device on a write to new_device, errors such
// as EEXIST or ENOSPC) is emulated by an injected attribute writer.
#define BOOST_TEST_MODULE dibsctl
#include "dibsctl.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "sysfs.hpp"
#include "test_files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
namespace bdata = boost::unit_test::data;
using namespace dibs::tools;

namespace {

using dibs::test::contains;
using dibs::test::slurp;
using dibs::test::spit;

constexpr std::string_view gid0 = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
constexpr std::string_view gid1 = "11111111-2222-3333-4444-555555555555";

/// A sysfs tree in a fresh temporary directory, removed afterwards.
class fake_sysfs {
public:
    fake_sysfs() = default;

    [[nodiscard]] sysfs_layout layout() const { return sysfs_layout{root}; }
    [[nodiscard]] fs::path class_dir() const { return layout().class_dir(); }
    [[nodiscard]] fs::path new_device() const { return layout().new_device(); }
    [[nodiscard]] fs::path del_device() const { return layout().del_device(); }

    /// "modprobe dibs"
    void load_dibs() const { fs::create_directories(class_dir()); }
    /// "modprobe dibs_loopback": the control files are plain (empty) files here.
    void load_loopback() const {
        load_dibs();
        fs::create_directories(layout().loopback_dir());
        spit(new_device(), "");
        spit(del_device(), "");
    }

    /// A device as the kernel shows it: a directory of attributes ending in newlines.
    void add_device(std::string_view name, std::string_view gid = gid0,
                    std::string_view fabric = "0xffff", std::string_view dmbs = "0",
                    std::string_view max_dmbs = "5000") const {
        const auto dir = layout().device_dir(name);
        fs::create_directories(dir);
        spit(dir / "gid", std::string{gid} + '\n');
        spit(dir / "fabric_id", std::string{fabric} + '\n');
        spit(dir / "dmbs", std::string{dmbs} + '\n');
        spit(dir / "max_dmbs", std::string{max_dmbs} + '\n');
    }

    /// Replaces the raw content of one attribute.
    void set_attr(std::string_view name, std::string_view attr, std::string_view content) const {
        spit(layout().device_dir(name) / attr, content);
    }
    void remove_attr(std::string_view name, std::string_view attr) const {
        fs::remove(layout().device_dir(name) / attr);
    }
    [[nodiscard]] bool has_device(std::string_view name) const {
        return fs::is_directory(layout().device_dir(name));
    }

    dibs::test::temp_dir tmp{"dibsctl-test"};
    fs::path root{tmp.path()};
};

/// Emulates the loopback driver's new_device/del_device store handlers on the fake tree and
/// records every write.
struct fake_kernel {
    explicit fake_kernel(const fake_sysfs& tree) : sysfs(&tree) {}

    int operator()(const fs::path& path, std::string_view value) {
        writes.emplace_back(path, std::string{value});
        if (!forced.empty()) {
            const int rc = forced.front();
            forced.pop_front();
            return rc;
        }
        if (value.ends_with('\n')) {
            value.remove_suffix(1);
        }
        if (path == sysfs->new_device()) {
            return create(value);
        }
        if (path == sysfs->del_device()) {
            if (!loopback_index(value) || !sysfs->has_device(value)) {
                return ENODEV;
            }
            fs::remove_all(sysfs->layout().device_dir(value));
            return 0;
        }
        return EACCES;
    }

    int create(std::string_view request) const {
        const auto space = request.find(' ');
        const auto index = parse_decimal(request.substr(0, space));
        std::optional<std::uint16_t> fabric = private_fabric_id;
        if (space != std::string_view::npos) {
            fabric = parse_fabric_id(request.substr(space + 1));
        }
        if (!index || !fabric) {
            return EINVAL;
        }
        const auto name = loopback_name(*index);
        if (sysfs->has_device(name)) {
            return EEXIST;
        }
        if (list_device_names(sysfs->layout()).size() >= max_devices) {
            return ENOSPC;
        }
        std::string gid = "00000000-0000-0000-0000-000000000000";
        const auto digits = std::to_string(*index);
        gid.replace(gid.size() - digits.size(), digits.size(), digits);
        sysfs->add_device(name, gid, format_fabric_id(*fabric));
        return 0;
    }

    [[nodiscard]] std::vector<std::string> written_to(const fs::path& path) const {
        std::vector<std::string> values;
        for (const auto& [p, v] : writes) {
            if (p == path) {
                values.push_back(v);
            }
        }
        return values;
    }

    const fake_sysfs* sysfs;
    std::vector<std::pair<fs::path, std::string>> writes;
    std::deque<int> forced; ///< errnos to return for the next writes, before any emulation
    std::size_t max_devices = 16;
};

struct cli_result {
    int status;
    std::string out;
    std::string err;
};

/// A fake tree, a fake kernel, and a way to run dibsctl in-process on them.
struct cli_fixture : fake_sysfs {
    cli_result run_cli(std::initializer_list<std::string_view> args) {
        std::ostringstream out;
        std::ostringstream err;
        context ctx(out, err);
        ctx.sysfs = layout();
        if (use_kernel) {
            ctx.write = [this](const fs::path& p, std::string_view v) { return kernel(p, v); };
        } else {
            ctx.write = [this](const fs::path& p, std::string_view v) {
                kernel.writes.emplace_back(p, std::string{v});
                return write_attribute(p, v);
            };
        }
        ctx.check_root = check_root;
        ctx.euid = euid;
        const std::vector<std::string_view> argv(args);
        const int status = run(argv, ctx);
        BOOST_TEST_MESSAGE("dibsctl exit " << status << "\nstdout:\n"
                                           << out.str() << "stderr:\n"
                                           << err.str());
        return {status, out.str(), err.str()};
    }

    /// The same tree with dibs, dibs_loopback and devices dibs_lo0, dibs_lo2 (different gids).
    void standard_tree() {
        load_loopback();
        add_device("dibs_lo0", gid0);
        add_device("dibs_lo2", gid1, "0x0010", "3", "5000");
    }

    fake_kernel kernel{*this};
    bool use_kernel = true; ///< emulate the kernel (else write the plain files)
    bool check_root = false;
    unsigned euid = 0;
};

} // namespace

// ---- pure logic ----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(gid)

BOOST_AUTO_TEST_CASE(parses_and_formats_lowercase) {
    const auto g = parse_gid(gid0);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(g->bytes[0] == 0x0f);
    BOOST_TEST(g->bytes[15] == 0xf0);
    BOOST_TEST(format_gid(*g) == gid0);
}

BOOST_AUTO_TEST_CASE(accepts_uppercase_and_prints_lowercase) {
    const auto g = parse_gid("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0");
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(format_gid(*g) == gid0);
}

BOOST_DATA_TEST_CASE(
    rejects_malformed,
    bdata::make({"", "0f1e2d3c", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f",
                 "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f00", "0f1e2d3c4b5a-6978-8796-a5b4c3d2e1f0-",
                 "0f1e2d3c-4b5a-6978-8796_a5b4c3d2e1f0", "0g1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                 " f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f\n"}),
    text) {
    BOOST_TEST(!parse_gid(text).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(peers)

BOOST_AUTO_TEST_CASE(parses_the_cross_vm_devices_slots) {
    const std::string g{gid0};
    const auto p = parse_peers("0 " + g + " peer\n3 " + g + " self");
    BOOST_REQUIRE(p.has_value());
    BOOST_REQUIRE_EQUAL(p->size(), 2U);
    BOOST_TEST(p->at(0).slot == 0U);
    BOOST_TEST(!p->at(0).self);
    BOOST_TEST(p->at(1).slot == 3U);
    BOOST_TEST(p->at(1).self);
    BOOST_TEST(format_gid(p->at(1).gid) == gid0);
    BOOST_TEST(parse_peers("").has_value());
}

BOOST_DATA_TEST_CASE(rejects_malformed,
                     bdata::make({"0", "0 x peer\n",
                                  "0 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 boss\n",
                                  "x 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 peer\n"}),
                     text) {
    BOOST_TEST(!parse_peers(text).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fabric_id)

BOOST_AUTO_TEST_CASE(parses_decimal_and_hex) {
    BOOST_TEST(parse_fabric_id("0").value() == 0);
    BOOST_TEST(parse_fabric_id("16").value() == 16);
    BOOST_TEST(parse_fabric_id("0016").value() == 16); // decimal, not octal
    BOOST_TEST(parse_fabric_id("65535").value() == 0xffff);
    BOOST_TEST(parse_fabric_id("0x10").value() == 0x10);
    BOOST_TEST(parse_fabric_id("0X10").value() == 0x10);
    BOOST_TEST(parse_fabric_id("0xFFFF").value() == 0xffff);
    BOOST_TEST(parse_fabric_id("0x0000ffff").value() == 0xffff);
}

BOOST_DATA_TEST_CASE(rejects_garbage,
                     bdata::make({"", "0x", "65536", "0x10000", "-1", "+1", " 1", "1 ", "0x-1",
                                  "abc", "0xg", "1e3", "99999999999999999999",
                                  "0x99999999999999999999", "1\n"}),
                     text) {
    BOOST_TEST(!parse_fabric_id(text).has_value());
}

BOOST_AUTO_TEST_CASE(formats_like_the_kernel) {
    BOOST_TEST(format_fabric_id(0) == "0x0000");
    BOOST_TEST(format_fabric_id(0x10) == "0x0010");
    BOOST_TEST(format_fabric_id(0xabc) == "0x0abc");
    BOOST_TEST(format_fabric_id(0xffff) == "0xffff");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decimal)

BOOST_AUTO_TEST_CASE(parses_within_range) {
    BOOST_TEST(parse_decimal("0").value() == 0U);
    BOOST_TEST(parse_decimal("4294967295").value() == 4294967295U);
    BOOST_TEST(parse_decimal("10", 10).value() == 10U);
    BOOST_TEST(!parse_decimal("11", 10).has_value());
    BOOST_TEST(!parse_decimal("4294967296").has_value());
}

BOOST_DATA_TEST_CASE(rejects_garbage, bdata::make({"", "-1", "+1", "1.0", "0x1", " 1", "1 ", "a"}),
                     text) {
    BOOST_TEST(!parse_decimal(text).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(loopback_names)

BOOST_AUTO_TEST_CASE(index_of_canonical_names_only) {
    BOOST_TEST(loopback_index("dibs_lo0").value() == 0U);
    BOOST_TEST(loopback_index("dibs_lo17").value() == 17U);
    BOOST_TEST(!loopback_index("dibs_lo").has_value());
    BOOST_TEST(!loopback_index("dibs_lo01").has_value());
    BOOST_TEST(!loopback_index("dibs_lo-1").has_value());
    BOOST_TEST(!loopback_index("dibs_lo4294967296").has_value());
    BOOST_TEST(!loopback_index("ism0").has_value());
    BOOST_TEST(!loopback_index("xdibs_lo1").has_value());
    BOOST_TEST(loopback_name(12) == "dibs_lo12");
}

BOOST_AUTO_TEST_CASE(requests_for_the_control_files) {
    BOOST_TEST(new_device_request(3, std::nullopt) == "3\n");
    BOOST_TEST(new_device_request(3, 0x10) == "3 0x0010\n");
    BOOST_TEST(new_device_request(0, 0xffff) == "0 0xffff\n");
    BOOST_TEST(del_device_request("dibs_lo3") == "dibs_lo3\n");
}

BOOST_AUTO_TEST_CASE(quote_escapes_unprintable) {
    BOOST_TEST(quote("abc") == "'abc'");
    BOOST_TEST(quote("a\nb") == "'a\\x0ab'");
    BOOST_TEST(quote("it's") == "'it\\x27s'");
    BOOST_TEST(quote(std::string(100, 'x')) == "'" + std::string(64, 'x') + "...'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(natural_sort)

BOOST_AUTO_TEST_CASE(numbers_compare_by_value) {
    BOOST_TEST(natural_less("dibs_lo2", "dibs_lo10"));
    BOOST_TEST(!natural_less("dibs_lo10", "dibs_lo2"));
    BOOST_TEST(natural_less("dibs_lo9", "dibs_lo10"));
    BOOST_TEST(natural_less("dibs_lo", "dibs_lo0"));
    BOOST_TEST(natural_less("dibs_lo99", "ism0"));
    BOOST_TEST(!natural_less("dibs_lo1", "dibs_lo1"));
}

BOOST_AUTO_TEST_CASE(leading_zeros_keep_a_strict_order) {
    BOOST_TEST(natural_less("a01", "a1") != natural_less("a1", "a01"));
    BOOST_TEST(natural_less("a01", "a2"));
    BOOST_TEST(natural_less("a1b", "a01c"));
}

BOOST_AUTO_TEST_CASE(sorts_a_list) {
    std::vector<std::string> names{"dibs_lo10", "ism1",       "dibs_lo2", "dibs_lo1",
                                   "dibs_lo0",  "dibs_lo100", "ism0"};
    std::sort(names.begin(), names.end(),
              [](const std::string& a, const std::string& b) { return natural_less(a, b); });
    const std::vector<std::string> expected{"dibs_lo0",   "dibs_lo1", "dibs_lo2", "dibs_lo10",
                                            "dibs_lo100", "ism0",     "ism1"};
    BOOST_TEST(names == expected, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(enumeration_is_sorted, cli_fixture) {
    load_dibs();
    for (const auto* n : {"dibs_lo10", "dibs_lo2", "dibs_lo1", "ism0"}) {
        add_device(n);
    }
    spit(class_dir() / ".hidden", ""); // not a device
    const auto names = list_device_names(layout());
    const std::vector<std::string> expected{"dibs_lo1", "dibs_lo2", "dibs_lo10", "ism0"};
    BOOST_TEST(names == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---- sysfs access --------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(sysfs_io, fake_sysfs)

BOOST_AUTO_TEST_CASE(read_strips_one_newline) {
    spit(root / "a", "value\n");
    spit(root / "b", "value\n\n");
    spit(root / "c", "");
    BOOST_TEST(read_attribute(root / "a", "t") == "value");
    BOOST_TEST(read_attribute(root / "b", "t") == "value\n");
    BOOST_TEST(read_attribute(root / "c", "t").empty());
}

BOOST_AUTO_TEST_CASE(read_of_missing_file_names_path_and_errno) {
    const auto path = root / "missing";
    try {
        (void)read_attribute(path, "list");
        BOOST_FAIL("no error");
    } catch (const error& e) {
        BOOST_TEST(e.errnum() == ENOENT);
        BOOST_TEST(e.resource() == path.string());
        BOOST_TEST(e.status() == exit_failure);
        BOOST_TEST(std::string{e.what()} ==
                   "list: cannot read " + path.string() + ": No such file or directory (errno 2)");
    }
}

BOOST_AUTO_TEST_CASE(read_of_directory_fails_cleanly) {
    BOOST_CHECK_THROW((void)read_attribute(root, "t"), error);
}

BOOST_AUTO_TEST_CASE(write_replaces_content_and_never_creates) {
    spit(root / "a", "old content");
    BOOST_TEST(write_attribute(root / "a", "1\n") == 0);
    BOOST_TEST(slurp(root / "a") == "1\n");
    BOOST_TEST(write_attribute(root / "missing", "1\n") == ENOENT);
    BOOST_TEST(!fs::exists(root / "missing"));
    BOOST_TEST(write_attribute(root, "1\n") == EISDIR);
}

BOOST_AUTO_TEST_CASE(layout_from_environment) {
    BOOST_TEST(sysfs_layout::from_env(nullptr).root() == "/sys");
    BOOST_TEST(sysfs_layout::from_env("").root() == "/sys");
    const auto l = sysfs_layout::from_env("/tmp/x");
    BOOST_TEST(l.class_dir() == "/tmp/x/class/dibs");
    BOOST_TEST(l.device_dir("dibs_lo0") == "/tmp/x/class/dibs/dibs_lo0");
    BOOST_TEST(l.new_device() == "/tmp/x/kernel/dibs_loopback/new_device");
    BOOST_TEST(l.del_device() == "/tmp/x/kernel/dibs_loopback/del_device");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- commands ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(list, cli_fixture)

BOOST_AUTO_TEST_CASE(table) {
    standard_tree();
    add_device("dibs_lo10", gid1, "0x0010", "12", "5000");
    const auto r = run_cli({"list"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.err.empty());
    BOOST_TEST(r.out == "DEVICE     GID                                   FABRIC  DMBS  MAX_DMBS\n"
                        "dibs_lo0   0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0  0xffff  0     5000\n"
                        "dibs_lo2   11111111-2222-3333-4444-555555555555  0x0010  3     5000\n"
                        "dibs_lo10  11111111-2222-3333-4444-555555555555  0x0010  12    5000\n");
}

BOOST_AUTO_TEST_CASE(is_the_default_command) {
    standard_tree();
    BOOST_TEST(run_cli({}).out == run_cli({"list"}).out);
    BOOST_TEST(run_cli({"--json"}).out == run_cli({"list", "--json"}).out);
}

BOOST_AUTO_TEST_CASE(json) {
    standard_tree();
    // The values, keys in this order ...
    const auto expected_values = nlohmann::ordered_json::parse(
        "[\n"
        "  {\"device\": \"dibs_lo0\", \"gid\": \"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\", "
        "\"fabric_id\": 65535, \"dmbs\": 0, \"max_dmbs\": 5000, \"loopback\": true},\n"
        "  {\"device\": \"dibs_lo2\", \"gid\": \"11111111-2222-3333-4444-555555555555\", "
        "\"fabric_id\": 16, \"dmbs\": 3, \"max_dmbs\": 5000, \"loopback\": true}\n"
        "]\n");
    // ... indented by two, as jq prints them.
    const std::string expected = "[\n"
                                 "  {\n"
                                 "    \"device\": \"dibs_lo0\",\n"
                                 "    \"gid\": \"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\",\n"
                                 "    \"fabric_id\": 65535,\n"
                                 "    \"dmbs\": 0,\n"
                                 "    \"max_dmbs\": 5000,\n"
                                 "    \"loopback\": true\n"
                                 "  },\n"
                                 "  {\n"
                                 "    \"device\": \"dibs_lo2\",\n"
                                 "    \"gid\": \"11111111-2222-3333-4444-555555555555\",\n"
                                 "    \"fabric_id\": 16,\n"
                                 "    \"dmbs\": 3,\n"
                                 "    \"max_dmbs\": 5000,\n"
                                 "    \"loopback\": true\n"
                                 "  }\n"
                                 "]\n";
    for (const auto& args :
         {std::vector<std::string_view>{"list", "-j"},
          std::vector<std::string_view>{"list", "--json"},
          std::vector<std::string_view>{"-j", "list"}, std::vector<std::string_view>{"--json"}}) {
        std::ostringstream out;
        std::ostringstream err;
        context ctx(out, err);
        ctx.sysfs = layout();
        BOOST_TEST(run(args, ctx) == exit_ok);
        BOOST_TEST(out.str() == expected);
        BOOST_TEST(nlohmann::ordered_json::parse(out.str()) == expected_values);
    }
}

BOOST_AUTO_TEST_CASE(json_escapes_strange_names) {
    load_dibs();
    add_device("we\"ird\\", gid0);
    const auto r = run_cli({"list", "-j"});
    BOOST_TEST(contains(r.out, R"("device": "we\"ird\\")"));
    BOOST_TEST(contains(r.out, R"("loopback": false)"));
}

BOOST_AUTO_TEST_CASE(json_escapes_control_characters_and_replaces_invalid_utf8) {
    load_dibs();
    add_device("a\x01"
               "b",
               gid0);
    add_device("c\xff", gid0);
    const auto r = run_cli({"list", "-j"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(contains(r.out, R"("device": "a\u0001b")"));
    BOOST_TEST(contains(r.out, "\"device\": \"c\xef\xbf\xbd\"")); // U+FFFD
    BOOST_TEST(nlohmann::json::parse(r.out).size() == 2U);
}

BOOST_AUTO_TEST_CASE(no_devices) {
    load_dibs();
    auto r = run_cli({"list"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == "no dibs devices\n");
    r = run_cli({"list", "--json"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == "[]\n");
}

BOOST_AUTO_TEST_CASE(devices_behind_symlinks_like_real_sysfs) {
    load_dibs();
    const auto real = root / "devices" / "virtual" / "dibs" / "dibs_lo0";
    fs::create_directories(real);
    spit(real / "gid", std::string{gid0} + "\n");
    spit(real / "fabric_id", "0xffff\n");
    spit(real / "dmbs", "0\n");
    spit(real / "max_dmbs", "5000\n");
    fs::create_directory_symlink("../../devices/virtual/dibs/dibs_lo0", class_dir() / "dibs_lo0");
    const auto r = run_cli({"list"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out.ends_with("\ndibs_lo0  " + std::string{gid0} + "  0xffff  0     5000\n"));
}

BOOST_AUTO_TEST_CASE(truncated_gid_is_reported_not_fatal) {
    standard_tree();
    set_attr("dibs_lo0", "gid", "0f1e2d3c-4b5a\n");
    const auto r = run_cli({"list"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.out, "dibs_lo0  -  "));
    BOOST_TEST(contains(r.out, "dibs_lo2  " + std::string{gid1})); // the others still show
    BOOST_TEST(r.err == "dibsctl: list: dibs_lo0: malformed gid '0f1e2d3c-4b5a' in " +
                            layout().device_dir("dibs_lo0").string() +
                            "/gid (expected a uuid like 01234567-89ab-cdef-0123-456789abcdef)\n");
}

BOOST_AUTO_TEST_CASE(garbage_fabric_id_is_reported) {
    standard_tree();
    set_attr("dibs_lo2", "fabric_id", "\x01garbage\n");
    const auto r = run_cli({"list", "--json"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.out, "\"fabric_id\": null"));
    BOOST_TEST(contains(r.err, "malformed fabric_id '\\x01garbage'"));
    BOOST_TEST(contains(r.err, "expected a fabric id 0x0000..0xffff"));
}

BOOST_AUTO_TEST_CASE(missing_attribute_is_reported) {
    standard_tree();
    remove_attr("dibs_lo2", "max_dmbs");
    const auto r = run_cli({"list"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.out, "dibs_lo2 "));
    BOOST_TEST(r.err == "dibsctl: list: cannot read " +
                            (layout().device_dir("dibs_lo2") / "max_dmbs").string() +
                            ": No such file or directory (errno 2)\n");
}

BOOST_AUTO_TEST_CASE(bad_counters_are_reported) {
    standard_tree();
    set_attr("dibs_lo0", "dmbs", "-1\n");
    set_attr("dibs_lo0", "max_dmbs", "");
    const auto r = run_cli({"list"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.err, "malformed dmbs '-1'"));
    BOOST_TEST(contains(r.err, "malformed max_dmbs ''"));
}

BOOST_AUTO_TEST_CASE(attribute_that_is_a_directory_is_reported) {
    standard_tree();
    remove_attr("dibs_lo0", "gid");
    fs::create_directory(layout().device_dir("dibs_lo0") / "gid");
    const auto r = run_cli({"list"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.err, "cannot read"));
    BOOST_TEST(contains(r.err, "Is a directory (errno 21)"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(show, cli_fixture)

BOOST_AUTO_TEST_CASE(text) {
    standard_tree();
    const auto r = run_cli({"show", "dibs_lo2"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.err.empty());
    BOOST_TEST(r.out == "device     dibs_lo2\n"
                        "loopback   yes\n"
                        "gid        11111111-2222-3333-4444-555555555555\n"
                        "fabric_id  0x0010\n"
                        "dmbs       3\n"
                        "max_dmbs   5000\n");
}

BOOST_AUTO_TEST_CASE(json) {
    standard_tree();
    add_device("ism0", gid1, "0x1234", "1", "1920");
    const auto expected_values = nlohmann::ordered_json::parse(
        "{\"device\": \"ism0\", \"gid\": "
        "\"11111111-2222-3333-4444-555555555555\", \"fabric_id\": 4660, "
        "\"dmbs\": 1, \"max_dmbs\": 1920, \"loopback\": false}\n");
    const std::string expected = "{\n"
                                 "  \"device\": \"ism0\",\n"
                                 "  \"gid\": \"11111111-2222-3333-4444-555555555555\",\n"
                                 "  \"fabric_id\": 4660,\n"
                                 "  \"dmbs\": 1,\n"
                                 "  \"max_dmbs\": 1920,\n"
                                 "  \"loopback\": false\n"
                                 "}\n";
    BOOST_TEST(nlohmann::ordered_json::parse(run_cli({"show", "-j", "ism0"}).out) ==
               expected_values);
    BOOST_TEST(run_cli({"show", "-j", "ism0"}).out == expected);
    BOOST_TEST(run_cli({"show", "ism0", "--json"}).out == expected);
    BOOST_TEST(run_cli({"--json", "show", "ism0"}).out == expected);
}

BOOST_AUTO_TEST_CASE(unknown_device) {
    standard_tree();
    const auto r = run_cli({"show", "foo"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err == "dibsctl: no such dibs device 'foo'\n");
}

BOOST_DATA_TEST_CASE(names_that_are_paths_are_not_devices,
                     bdata::make({"", ".", "..", "../dibs", "dibs_lo0/", "/dibs_lo0",
                                  "dibs_lo0/../dibs_lo0"}),
                     name) {
    standard_tree();
    const auto r = run_cli({"show", name});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.err, "no such dibs device"));
}

BOOST_AUTO_TEST_CASE(broken_attribute) {
    standard_tree();
    set_attr("dibs_lo0", "fabric_id", "0x1ffff\n");
    const auto r = run_cli({"show", "dibs_lo0"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.out, "fabric_id  -\n"));
    BOOST_TEST(contains(r.out, "gid        " + std::string{gid0}));
    BOOST_TEST(contains(r.err, "dibsctl: show: dibs_lo0: malformed fabric_id '0x1ffff'"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(add_loopback, cli_fixture)

BOOST_AUTO_TEST_CASE(writes_the_index_to_new_device) {
    use_kernel = false; // the plain file keeps what was written
    load_loopback();
    const auto r = run_cli({"add-loopback"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == "dibs_lo0\n");
    BOOST_TEST(slurp(new_device()) == "0\n");
}

BOOST_AUTO_TEST_CASE(writes_the_fabric_as_hex) {
    use_kernel = false;
    load_loopback();
    BOOST_TEST(run_cli({"add-loopback", "--fabric", "16"}).status == exit_ok);
    BOOST_TEST(slurp(new_device()) == "0 0x0010\n");
    BOOST_TEST(run_cli({"add-loopback", "--id=7", "--fabric=0xFFFF"}).status == exit_ok);
    BOOST_TEST(slurp(new_device()) == "7 0xffff\n");
    BOOST_TEST(run_cli({"add-loopback", "-i", "3", "-f", "0"}).status == exit_ok);
    BOOST_TEST(slurp(new_device()) == "3 0x0000\n");
    BOOST_TEST(run_cli({"add-loopback", "-i4", "-f0x20"}).status == exit_ok);
    BOOST_TEST(slurp(new_device()) == "4 0x0020\n");
}

BOOST_AUTO_TEST_CASE(picks_the_lowest_free_indexes) {
    standard_tree();         // dibs_lo0, dibs_lo2
    add_device("dibs_lo01"); // not a loopback name: does not occupy index 1
    add_device("ism3");
    const auto r = run_cli({"add-loopback", "--count", "3"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == "dibs_lo1\ndibs_lo3\ndibs_lo4\n");
    const std::vector<std::string> expected{"1\n", "3\n", "4\n"};
    BOOST_TEST(kernel.written_to(new_device()) == expected, boost::test_tools::per_element());
    BOOST_TEST(has_device("dibs_lo4"));
}

BOOST_AUTO_TEST_CASE(count_with_fabric) {
    standard_tree();
    const auto r = run_cli({"add-loopback", "--fabric", "0x10", "--count", "2"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == "dibs_lo1\ndibs_lo3\n");
    const std::vector<std::string> expected{"1 0x0010\n", "3 0x0010\n"};
    BOOST_TEST(kernel.written_to(new_device()) == expected, boost::test_tools::per_element());
    BOOST_TEST(run_cli({"show", "dibs_lo3"}).out.find("fabric_id  0x0010") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(explicit_id_with_count) {
    standard_tree();
    const auto r = run_cli({"add-loopback", "--id", "5", "-n", "3"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == "dibs_lo5\ndibs_lo6\ndibs_lo7\n");
}

BOOST_AUTO_TEST_CASE(explicit_id_that_exists_writes_nothing) {
    standard_tree();
    const auto r = run_cli({"add-loopback", "--id", "2"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: add-loopback: dibs_lo2 already exists\n");
    BOOST_TEST(kernel.writes.empty());
}

BOOST_AUTO_TEST_CASE(explicit_range_stops_at_an_existing_device) {
    standard_tree();
    const auto r = run_cli({"add-loopback", "--id", "1", "--count", "3"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.out == "dibs_lo1\n"); // created before the error, and printed
    BOOST_TEST(contains(r.err, "dibs_lo2 already exists"));
}

BOOST_AUTO_TEST_CASE(retries_when_another_process_wins_the_race) {
    standard_tree();
    kernel.forced = {EEXIST, EEXIST};
    const auto r = run_cli({"add-loopback"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == "dibs_lo4\n");
    const std::vector<std::string> expected{"1\n", "3\n", "4\n"};
    BOOST_TEST(kernel.written_to(new_device()) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(gives_up_after_many_races) {
    standard_tree();
    kernel.forced.assign(1000, EEXIST);
    const auto r = run_cli({"add-loopback"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.err, "File exists (errno 17)"));
    BOOST_TEST(kernel.writes.size() < 100U);
}

BOOST_AUTO_TEST_CASE(kernel_eexist_for_explicit_id) {
    standard_tree();
    kernel.forced = {EEXIST};
    const auto r = run_cli({"add-loopback", "--id", "9"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: add-loopback: cannot write " + new_device().string() +
                            ": File exists (errno 17); dibs_lo9 already exists\n");
    BOOST_TEST(kernel.writes.size() == 1U);
}

BOOST_AUTO_TEST_CASE(kernel_enospc) {
    standard_tree();
    kernel.max_devices = 3;
    const auto r = run_cli({"add-loopback", "--count", "5"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.out == "dibs_lo1\n");
    BOOST_TEST(r.err == "dibsctl: add-loopback: cannot write " + new_device().string() +
                            ": No space left on device (errno 28); too many loopback devices\n");
}

BOOST_AUTO_TEST_CASE(kernel_einval) {
    standard_tree();
    kernel.forced = {EINVAL};
    const auto r = run_cli({"add-loopback", "--fabric", "0x10"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: add-loopback: cannot write " + new_device().string() +
                            ": Invalid argument (errno 22); the kernel rejected '1 0x0010' (are "
                            "all loopback indexes in use?)\n");
}

BOOST_AUTO_TEST_CASE(kernel_einval_for_explicit_id) {
    standard_tree();
    kernel.forced = {EINVAL};
    const auto r = run_cli({"add-loopback", "--id", "100"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.err, "Invalid argument (errno 22); the kernel rejected '100' (is the "
                               "index beyond the driver's limit?)"));
}

BOOST_DATA_TEST_CASE(kernel_permission_errors, bdata::make({EACCES, EPERM}), errnum) {
    standard_tree();
    kernel.forced = {errnum};
    const auto r = run_cli({"add-loopback"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: add-loopback: cannot write " + new_device().string() + ": " +
                            errno_text(errnum) + "; are you root?\n");
}

BOOST_AUTO_TEST_CASE(not_root_is_refused_before_writing) {
    standard_tree();
    check_root = true;
    euid = 65534;
    const auto r = run_cli({"add-loopback"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err == "dibsctl: add-loopback: cannot write " + new_device().string() +
                            ": Permission denied (errno 13); are you root? (effective uid "
                            "65534)\n");
    BOOST_TEST(kernel.writes.empty());
}

BOOST_AUTO_TEST_CASE(root_passes_the_check) {
    standard_tree();
    check_root = true;
    euid = 0;
    BOOST_TEST(run_cli({"add-loopback"}).status == exit_ok);
}

BOOST_AUTO_TEST_CASE(help_option) {
    const auto r = run_cli({"add-loopback", "--help"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == command_help("add-loopback").value());
    BOOST_TEST(kernel.writes.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(del, cli_fixture)

BOOST_AUTO_TEST_CASE(writes_the_name_to_del_device) {
    use_kernel = false;
    standard_tree();
    const auto r = run_cli({"del", "dibs_lo2"});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(r.err.empty());
    BOOST_TEST(slurp(del_device()) == "dibs_lo2\n");
}

BOOST_AUTO_TEST_CASE(removes_several) {
    standard_tree();
    BOOST_TEST(run_cli({"del", "dibs_lo0", "dibs_lo2"}).status == exit_ok);
    BOOST_TEST(!has_device("dibs_lo0"));
    BOOST_TEST(!has_device("dibs_lo2"));
    BOOST_TEST(run_cli({"list"}).out == "no dibs devices\n");
}

BOOST_AUTO_TEST_CASE(unknown_device_does_not_stop_the_others) {
    standard_tree();
    const auto r = run_cli({"del", "foo", "dibs_lo2", "dibs_lo9"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: no such dibs device 'foo'\n"
                        "dibsctl: no such dibs device 'dibs_lo9'\n");
    const std::vector<std::string> expected{"dibs_lo2\n"};
    BOOST_TEST(kernel.written_to(del_device()) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(same_device_twice) {
    standard_tree();
    const auto r = run_cli({"del", "dibs_lo2", "dibs_lo2"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: no such dibs device 'dibs_lo2'\n");
}

BOOST_AUTO_TEST_CASE(only_loopback_devices) {
    standard_tree();
    add_device("ism0");
    add_device("dibs_lo01");
    const auto r = run_cli({"del", "ism0", "dibs_lo01"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: 'ism0' is not a loopback device\n"
                        "dibsctl: 'dibs_lo01' is not a loopback device\n");
    BOOST_TEST(kernel.writes.empty());
}

BOOST_AUTO_TEST_CASE(kernel_enodev) {
    standard_tree();
    kernel.forced = {ENODEV};
    const auto r = run_cli({"del", "dibs_lo0"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: del: cannot write " + del_device().string() +
                            ": No such device (errno 19); 'dibs_lo0' is not a loopback device\n");
}

BOOST_AUTO_TEST_CASE(kernel_ebusy) {
    standard_tree();
    kernel.forced = {EBUSY};
    const auto r = run_cli({"del", "dibs_lo0"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.err, "Device or resource busy (errno 16); 'dibs_lo0' is in use"));
}

BOOST_AUTO_TEST_CASE(kernel_eacces) {
    standard_tree();
    kernel.forced = {EACCES};
    const auto r = run_cli({"del", "dibs_lo0"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(contains(r.err, "Permission denied (errno 13); are you root?"));
}

BOOST_AUTO_TEST_CASE(not_root_is_refused_before_writing) {
    standard_tree();
    check_root = true;
    euid = 1000;
    const auto r = run_cli({"del", "dibs_lo0"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: del: cannot write " + del_device().string() +
                            ": Permission denied (errno 13); are you root? (effective uid 1000)\n");
    BOOST_TEST(kernel.writes.empty());
    BOOST_TEST(has_device("dibs_lo0"));
}

BOOST_AUTO_TEST_CASE(dash_dash_ends_options) {
    standard_tree();
    const auto r = run_cli({"del", "--", "-h"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == "dibsctl: no such dibs device '-h'\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(usage)

namespace {

struct usage_case {
    std::vector<std::string_view> args;
    std::string_view message; ///< the first line on stderr, without "dibsctl: "
    std::string_view hint;    ///< "--help" or "help CMD"
};

std::ostream& operator<<(std::ostream& os, const usage_case& c) {
    for (const auto a : c.args) {
        os << '\'' << a << "' ";
    }
    return os;
}

const std::vector<usage_case> usage_cases{
    {{"bogus"}, "unknown command 'bogus'", "--help"},
    {{"--bogus"}, "The following argument was not expected: --bogus", "--help"},
    {{"-x", "list"}, "The following argument was not expected: -x", "--help"},
    {{"list", "extra"}, "list: The following argument was not expected: extra", "help list"},
    {{"list", "a", "b"}, "list: The following arguments were not expected: a b", "help list"},
    {{"list", "--bogus"}, "list: The following argument was not expected: --bogus", "help list"},
    {{"list", "--json=yes"}, "list: json was given a disallowed flag override", "help list"},
    {{"list", "-j", "--json"}, "list: --json: At Most 1 required but received 2", "help list"},
    {{"list", "-jx"}, "list: The following argument was not expected: -x", "help list"},
    {{"show"}, "show: missing device name", "help show"},
    {{"show", "a", "b"}, "show: unexpected argument 'b' (one device at a time)", "help show"},
    {{"add-loopback", "x"},
     "add-loopback: The following argument was not expected: x",
     "help add-loopback"},
    {{"add-loopback", "--id"}, "add-loopback: --id: 1 required N missing", "help add-loopback"},
    {{"add-loopback", "-f"}, "add-loopback: --fabric: 1 required F missing", "help add-loopback"},
    {{"add-loopback", "--id", "1", "--id", "2"},
     "add-loopback: --id: At Most 1 required but received 2",
     "help add-loopback"},
    {{"add-loopback", "--id", "abc"},
     "add-loopback: invalid --id 'abc' (expected a decimal number 0..2147483647)",
     "help add-loopback"},
    {{"add-loopback", "--id", "-1"},
     "add-loopback: invalid --id '-1' (expected a decimal number 0..2147483647)",
     "help add-loopback"},
    {{"add-loopback", "--id", "2147483648"},
     "add-loopback: invalid --id '2147483648' (expected a decimal number 0..2147483647)",
     "help add-loopback"},
    {{"add-loopback", "--id", "99999999999"},
     "add-loopback: invalid --id '99999999999' (expected a decimal number 0..2147483647)",
     "help add-loopback"},
    {{"add-loopback", "--id="}, "add-loopback: --id: 1 required N missing", "help add-loopback"},
    {{"add-loopback", "--id", ""},
     "add-loopback: invalid --id '' (expected a decimal number 0..2147483647)",
     "help add-loopback"},
    {{"add-loopback", "--id", "0x1"},
     "add-loopback: invalid --id '0x1' (expected a decimal number 0..2147483647)",
     "help add-loopback"},
    {{"add-loopback", "--fabric", "0x10000"},
     "add-loopback: invalid --fabric '0x10000' (expected a fabric id 0..65535, decimal or "
     "0x0..0xffff)",
     "help add-loopback"},
    {{"add-loopback", "--fabric", "65536"},
     "add-loopback: invalid --fabric '65536' (expected a fabric id 0..65535, decimal or "
     "0x0..0xffff)",
     "help add-loopback"},
    {{"add-loopback", "-f", "\xff\n"},
     "add-loopback: invalid --fabric '\\xff\\x0a' (expected a fabric id 0..65535, decimal or "
     "0x0..0xffff)",
     "help add-loopback"},
    {{"add-loopback", "--count", "0"},
     "add-loopback: invalid --count '0' (expected 1..1024)",
     "help add-loopback"},
    {{"add-loopback", "--count", "1025"},
     "add-loopback: invalid --count '1025' (expected 1..1024)",
     "help add-loopback"},
    {{"add-loopback", "--id", "2147483647", "--count", "2"},
     "add-loopback: --id 2147483647 with --count 2 goes beyond dibs_lo2147483647",
     "help add-loopback"},
    {{"-j", "add-loopback"}, "option '--json' applies only to list and show", "--help"},
    {{"add-loopback", "--json"},
     "add-loopback: The following argument was not expected: --json",
     "help add-loopback"},
    {{"del"}, "del: missing device name", "help del"},
    {{"del", "--force", "dibs_lo0"},
     "del: The following argument was not expected: --force",
     "help del"},
    {{"help", "bogus"}, "help: unknown command 'bogus'", "--help"},
    {{"help", "list", "show"}, "help: unexpected argument 'show'", "help help"},
};

} // namespace

BOOST_DATA_TEST_CASE(exit_2_with_message_and_hint, bdata::make(usage_cases), c) {
    cli_fixture f;
    f.standard_tree();
    std::ostringstream out;
    std::ostringstream err;
    context ctx(out, err);
    ctx.sysfs = f.layout();
    ctx.write = [&f](const fs::path& p, std::string_view v) { return f.kernel(p, v); };
    BOOST_TEST(run(c.args, ctx) == exit_usage);
    BOOST_TEST(out.str().empty());
    BOOST_TEST(err.str() == "dibsctl: " + std::string{c.message} + "\nTry 'dibsctl " +
                                std::string{c.hint} + "' for more information.\n");
    BOOST_TEST(f.kernel.writes.empty());
}

BOOST_AUTO_TEST_CASE(dispatch_throws_the_usage_error) {
    std::ostringstream out;
    std::ostringstream err;
    context ctx(out, err);
    const std::vector<std::string_view> args{"bogus"};
    try {
        (void)dispatch(args, ctx);
        BOOST_FAIL("no error");
    } catch (const error& e) {
        BOOST_TEST(e.status() == exit_usage);
        BOOST_TEST(std::string{e.what()} == "unknown command 'bogus'");
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(module_not_loaded, cli_fixture)

BOOST_AUTO_TEST_CASE(dibs_missing) {
    // No class/dibs at all.
    const std::string expected = "dibsctl: the dibs module is not loaded (" + class_dir().string() +
                                 " missing; try: modprobe dibs)\n";
    for (const auto& args :
         {std::vector<std::string_view>{}, std::vector<std::string_view>{"list", "--json"},
          std::vector<std::string_view>{"show", "dibs_lo0"},
          std::vector<std::string_view>{"add-loopback"},
          std::vector<std::string_view>{"del", "dibs_lo0"}}) {
        std::ostringstream out;
        std::ostringstream err;
        context ctx(out, err);
        ctx.sysfs = layout();
        BOOST_TEST(run(args, ctx) == exit_failure);
        BOOST_TEST(out.str().empty());
        BOOST_TEST(err.str() == expected);
    }
}

BOOST_AUTO_TEST_CASE(loopback_missing) {
    load_dibs();
    add_device("dibs_lo0");
    const std::string expected = "dibsctl: the dibs_loopback module is not loaded (" +
                                 layout().loopback_dir().string() +
                                 " missing; try: modprobe dibs_loopback)\n";
    auto r = run_cli({"add-loopback"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == expected);
    r = run_cli({"del", "dibs_lo0"});
    BOOST_TEST(r.status == exit_failure);
    BOOST_TEST(r.err == expected);
    BOOST_TEST(kernel.writes.empty());
    // Reading needs only dibs.
    BOOST_TEST(run_cli({"list"}).status == exit_ok);
}

BOOST_AUTO_TEST_CASE(loopback_checked_before_root) {
    load_dibs();
    check_root = true;
    euid = 1000;
    BOOST_TEST(contains(run_cli({"add-loopback"}).err, "dibs_loopback module is not loaded"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(help, cli_fixture)

BOOST_AUTO_TEST_CASE(main_help_is_a_manual) {
    for (const auto* opt : {"--help", "-h"}) {
        const auto r = run_cli({opt});
        BOOST_TEST(r.status == exit_ok);
        BOOST_TEST(r.err.empty());
        BOOST_TEST(r.out == main_help());
    }
    BOOST_TEST(run_cli({"help"}).out == main_help());
    const auto text = main_help();
    for (const auto* section : {"NAME\n", "SYNOPSIS\n", "DESCRIPTION\n", "COMMANDS\n", "OPTIONS\n",
                                "ENVIRONMENT\n", "FILES\n", "EXIT STATUS\n", "EXAMPLES\n"}) {
        BOOST_TEST(contains(text, section), "section " << section);
    }
    for (const auto* word :
         {"list", "show DEVICE", "add-loopback", "del DEVICE...", "help [COMMAND]", "--json",
          "--id N", "--fabric F", "--count K", "--version", "DIBS_SYSFS_ROOT", "/sys/class/dibs",
          "/sys/kernel/dibs_loopback/new_device", "/sys/kernel/dibs_loopback/del_device", "0xffff",
          "modprobe"}) {
        BOOST_TEST(contains(text, word), "mentions " << word);
    }
    BOOST_TEST(contains(text, "dibs_lo2"));
}

BOOST_AUTO_TEST_CASE(man_page_says_what_the_help_says) {
    // The troff source with "\-" as "-" and without font changes, enough to find words in.
    std::string man = slurp(DIBSCTL_MAN_PAGE);
    BOOST_REQUIRE(!man.empty());
    for (const auto& [from, to] :
         {std::pair{"\\-", "-"}, std::pair{"\\fI", ""}, std::pair{"\\fB", ""},
          std::pair{"\\fR", ""}, std::pair{"\\fP", ""}, std::pair{"\\c\n", ""}}) {
        for (auto pos = man.find(from); pos != std::string::npos; pos = man.find(from, pos)) {
            man.replace(pos, std::string_view{from}.size(), to);
        }
    }
    for (const auto* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                                "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"}) {
        BOOST_TEST(contains(man, std::string{"\n.SH "} + section + "\n"), "section " << section);
    }
    const auto help = main_help();
    for (const auto* word : {"list",
                             "show",
                             "add-loopback",
                             "del",
                             "help",
                             "-j",
                             "--json",
                             "-i",
                             "--id",
                             "-f",
                             "--fabric",
                             "-n",
                             "--count",
                             "-h",
                             "--help",
                             "-V",
                             "--version",
                             "DIBS_SYSFS_ROOT",
                             "/sys/class/dibs/DEVICE/{gid,fabric_id,dmbs,max_dmbs}",
                             "/sys/kernel/dibs_loopback/new_device",
                             "/sys/kernel/dibs_loopback/del_device",
                             "0..2147483647",
                             "0..0xffff",
                             "1..1024",
                             "modprobe dibs_loopback",
                             "dibsctl add-loopback --fabric 0x10 --count 2",
                             "dibsctl del dibs_lo1 dibs_lo2"}) {
        BOOST_TEST(contains(help, word), "help mentions " << word);
        BOOST_TEST(contains(man, word), "man page mentions " << word);
    }
    for (const auto* status :
         {"\n.B 0\nSuccess.", "\n.B 1\nOperational error", "\n.B 2\nUsage error"}) {
        BOOST_TEST(contains(man, status), "exit status " << status);
    }
}

BOOST_AUTO_TEST_CASE(lines_fit_a_terminal) {
    std::vector<std::string_view> texts{main_help()};
    for (const auto* cmd : {"list", "show", "add-loopback", "del", "help"}) {
        texts.push_back(command_help(cmd).value());
    }
    for (const auto text : texts) {
        std::istringstream in{std::string{text}};
        for (std::string line; std::getline(in, line);) {
            BOOST_TEST(line.size() <= 80U, "line too long: " << line);
        }
        BOOST_TEST(text.ends_with('\n'));
    }
}

BOOST_DATA_TEST_CASE(command_help_everywhere,
                     bdata::make({"list", "show", "add-loopback", "del", "help"}), cmd) {
    // No modules loaded: help must not need them.
    const auto expected = command_help(cmd).value();
    BOOST_TEST(contains(expected, "SYNOPSIS\n"));
    BOOST_TEST(contains(expected, std::string{"dibsctl "} + cmd));
    for (const auto* opt : {"--help", "-h"}) {
        const auto r = run_cli({cmd, opt});
        BOOST_TEST(r.status == exit_ok);
        BOOST_TEST(r.out == expected);
    }
    const auto r = run_cli({"help", cmd});
    BOOST_TEST(r.status == exit_ok);
    BOOST_TEST(r.out == expected);
}

BOOST_AUTO_TEST_CASE(unknown_command_has_no_help) {
    BOOST_TEST(!command_help("bogus").has_value());
}

BOOST_AUTO_TEST_CASE(version) {
    for (const auto* opt : {"--version", "-V"}) {
        const auto r = run_cli({opt});
        BOOST_TEST(r.status == exit_ok);
        BOOST_TEST(r.out == version_text() + "\n");
        BOOST_TEST(r.out.starts_with("dibsctl (dibs-rdma) "));
    }
}

BOOST_AUTO_TEST_SUITE_END()
