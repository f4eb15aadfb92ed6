#include <gpuenv/core/spec/match_spec.hpp>

#include <algorithm>
#include <limits>

#include <gpuenv/util/parse_error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::spec {
namespace {

constexpr std::array<std::string_view, k_match_field_count> k_field_names = {
    "channel",        "subdir",   "name", "version", "build",  "build_number",
    "track_features", "features", "url",  "md5",     "sha256", "license",
    "license_family", "fn",       "when", "extras",  "flags",
};

// conda's KNOWN_SUBDIRS: only these are split off a channel ("conda-forge/linux-64").
constexpr std::string_view k_known_subdirs =
    "emscripten-wasm32 wasi-wasm32 freebsd-64 linux-32 linux-64 linux-aarch64 linux-armv6l "
    "linux-armv7l linux-ppc64 linux-ppc64le linux-riscv64 linux-s390x osx-64 osx-arm64 win-32 "
    "win-64 win-arm64 zos-z noarch";

// The channels conda's "defaults" stands for.
constexpr std::array<std::string_view, 5> k_default_channels = {"pkgs/main", "pkgs/r", "pkgs/msys2",
                                                                "pkgs/free", "pkgs/pro"};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_alnum(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_one_of(char c, std::string_view set) {
    return set.find(c) != std::string_view::npos;
}
bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
// Shows a character of user input in a message: printable ASCII quoted, anything else as hex.
std::string describe(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
        static constexpr char k_hex[] = "0123456789abcdef";
        return std::string("byte 0x") + k_hex[u >> 4] + k_hex[u & 15];
    }
    return std::string("'") + c + "'";
}
// Tells whether a string starts with a URL scheme ("https://", "file://", "s3://").
bool is_url(std::string_view s) {
    const std::size_t colon = s.find("://");
    if (colon == std::string_view::npos || colon == 0 || !is_alnum(s[0]) || is_digit(s[0]))
        return false;
    for (std::size_t i = 0; i < colon; ++i) {
        if (!is_alnum(s[i]) && !is_one_of(s[i], "+.-"))
            return false;
    }
    return true;
}

std::string_view strip_trailing_slashes(std::string_view s) {
    while (!s.empty() && s.back() == '/')
        s.remove_suffix(1);
    return s;
}

// Drops spaces and trailing slashes around a channel; done before the subdir is split off and
// again after, so that the canonical form reads back the same ('chan /', 'chan/linux-64 /').
std::string_view tidy_channel(std::string_view s) {
    for (;;) {
        const std::string_view t = strip_trailing_slashes(util::trim(s));
        if (t.size() == s.size())
            return t;
        s = t;
    }
}

// Splits "chan/linux-64" or "https://host/chan/noarch/" into channel and known subdir.
std::pair<std::string_view, std::string_view> split_subdir(std::string_view channel) {
    channel = strip_trailing_slashes(channel);
    const std::size_t slash = channel.rfind('/');
    if (slash == std::string_view::npos || !is_known_subdir(channel.substr(slash + 1)))
        return {channel, {}};
    return {strip_trailing_slashes(channel.substr(0, slash)), channel.substr(slash + 1)};
}

// Returns the name conda shows for a channel URL: "conda-forge" for
// https://conda.anaconda.org/conda-forge, "pkgs/main" for https://repo.anaconda.com/pkgs/main,
// the URL itself (without subdir or trailing slash) otherwise.
std::string canonical_channel_name(std::string_view channel) {
    channel = split_subdir(channel).first;
    if (!is_url(channel))
        return std::string(channel);
    const std::size_t scheme = channel.find("://");
    std::string_view rest = channel.substr(scheme + 3);
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos)
        return std::string(channel);
    const std::string host = util::to_lower(rest.substr(0, slash));
    std::string_view path = rest.substr(slash + 1);
    if (host == "conda.anaconda.org" || host == "anaconda.org") {
        if (path.substr(0, 2) == "t/") {  // a token: /t/<token>/<channel>
            const std::size_t end = path.find('/', 2);
            path = end == std::string_view::npos ? std::string_view() : path.substr(end + 1);
        }
        // A name that would itself read as a URL is no name ('.../x://...').
        if (!path.empty() && !is_url(path))
            return std::string(path);
    }
    if (host == "repo.anaconda.com" && path.substr(0, 5) == "pkgs/")
        return std::string(path);
    return std::string(channel);
}

// Turns an absolute local path into a file:// URL, as conda does for channels and packages.
std::string path_to_url(std::string_view s) {
    if (is_url(s))
        return std::string(s);  // 'c://x' is a URL, not a Windows drive
    if (!s.empty() && s.front() == '/')
        return "file://" + std::string(s);
    if (s.size() >= 3 && is_alnum(s[0]) && s[1] == ':' && (s[2] == '\\' || s[2] == '/')) {
        std::string out = "file:///" + std::string(s);
        std::replace(out.begin(), out.end(), '\\', '/');
        return out;
    }
    return std::string(s);
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && util::hex_value(s[i + 1]) >= 0 &&
            util::hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(util::hex_value(s[i + 1]) * 16 + util::hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Returns the offset of the first character that breaks CEP 26's name rules, or npos:
// distributable `^(([a-z0-9])|([a-z0-9_](?!_)))[._-]?([a-z0-9]+(\.|-|_|$))*$`, virtual
// `^__[a-z0-9][._-]?([a-z0-9]+(\.|-|_|$))*$` (the name is lowercased first).
std::size_t invalid_name_offset(std::string_view s) {
    const auto alnum = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); };
    const auto separator = [](char c) { return c == '.' || c == '-' || c == '_'; };
    const std::size_t n = s.size();
    std::size_t i = 0;
    if (n >= 2 && s[0] == '_' && s[1] == '_') {
        if (n == 2 || !alnum(s[2]))
            return 2;
        i = 3;
    } else if (n > 0 && (alnum(s[0]) || s[0] == '_')) {
        i = 1;
    } else {
        return 0;
    }
    if (i < n && separator(s[i]))
        ++i;
    while (i < n) {
        if (!alnum(s[i]))
            return i;
        while (i < n && alnum(s[i]))
            ++i;
        if (i < n) {
            if (!separator(s[i]))
                return i;
            ++i;
        }
    }
    return std::string_view::npos;
}

// Splits a track_features/features value at commas and spaces into a sorted set.
std::vector<std::string> feature_set(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const std::string& value : values) {
        std::size_t i = 0;
        while (i < value.size()) {
            while (i < value.size() && (value[i] == ',' || is_space(value[i])))
                ++i;
            std::size_t j = i;
            while (j < value.size() && value[j] != ',' && !is_space(value[j]))
                ++j;
            if (j > i)
                out.emplace_back(value.substr(i, j - i));
            i = j;
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// Text with the offset in the original spec of each character, so that an error found after
// spaces were removed or '=' stripped still points at the right column.
struct MappedText {
    std::string text;
    std::vector<std::size_t> origin;
    std::size_t end_offset = 0;

    [[nodiscard]] std::size_t offset_of(std::size_t i) const {
        return i < origin.size() ? origin[i] : end_offset;
    }
    void erase_front(std::size_t k) {
        text.erase(0, k);
        origin.erase(origin.begin(), origin.begin() + static_cast<std::ptrdiff_t>(k));
    }
};

MappedText without_spaces(std::string_view text, std::size_t offset) {
    MappedText out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!is_space(text[i])) {
            out.text += text[i];
            out.origin.push_back(offset + i);
        }
    }
    out.end_offset = offset + text.size();
    return out;
}

// conda's _sanitize_version_str: '==X' without a build is X (exact); '=X' without a build is
// X* (starts with); '=X' or '==X' with a build is X (exact); bare '=' and '==' are kept so that
// the version spec parser rejects them.
void sanitize_version(MappedText& v, bool has_build) {
    const std::string& t = v.text;
    if (t == "==" || t == "=" || t.empty() || t.front() != '=')
        return;
    const std::size_t equals =
        t.find_first_not_of('=') == std::string::npos ? t.size() : t.find_first_not_of('=');
    const std::string_view stripped = std::string_view(t).substr(equals);
    if (t.substr(0, 2) == "==" && !has_build) {
        v.erase_front(equals);
        return;
    }
    if (stripped.find_first_of("=,|") != std::string_view::npos)
        return;
    const bool append_star = !has_build && (stripped.empty() || stripped.back() != '*');
    v.erase_front(equals);
    if (append_star) {
        v.text += '*';
        v.origin.push_back(v.end_offset);
    }
}

}  // namespace

std::string_view match_field_name(MatchField field) {
    return k_field_names[static_cast<std::size_t>(field)];
}

std::optional<MatchField> match_field_from_name(std::string_view key) {
    for (std::size_t i = 0; i < k_field_names.size(); ++i) {
        if (k_field_names[i] == key)
            return static_cast<MatchField>(i);
    }
    return std::nullopt;
}

bool is_known_subdir(std::string_view subdir) {
    std::size_t begin = 0;
    while (begin < k_known_subdirs.size()) {
        std::size_t end = k_known_subdirs.find(' ', begin);
        if (end == std::string_view::npos)
            end = k_known_subdirs.size();
        if (k_known_subdirs.substr(begin, end - begin) == subdir)
            return true;
        begin = end + 1;
    }
    return false;
}

// Follows conda's _parse_spec_str step by step (see the reference, section 5), keeping the
// offset of every piece in the original text for error messages.
class MatchSpec::Parser {
  public:
    Parser(std::string_view text, MatchSpec& out, ParseFailure* failure)
        : m_text(text), m_out(out), m_failure(failure) {}

    bool run();

  private:
    struct Bracket {
        MatchField field;
        std::string value;
        std::size_t offset;
    };

    bool fail(std::size_t offset, std::string reason) {
        if (m_failure != nullptr) {
            m_failure->offset = offset;
            m_failure->reason = std::move(reason);
        }
        return false;
    }

    void set(MatchField field, std::string value, std::size_t offset) {
        m_out.m_values[index(field)] = std::move(value);
        m_offsets[index(field)] = offset;
    }

    bool package_file(std::size_t begin, std::size_t end);
    bool brackets(std::size_t open, std::size_t end);
    std::size_t drop_legacy_parens(std::size_t begin, std::size_t end) const;
    bool set_channel(std::string_view value, std::size_t offset);
    bool version_and_build(std::size_t begin, std::size_t end);
    bool set_name(std::string_view name, std::size_t offset);
    bool apply(const Bracket& bracket);
    bool compile();
    bool compile_build_number(const std::string& value, std::size_t offset);

    std::string_view m_text;
    MatchSpec& m_out;
    ParseFailure* m_failure;
    std::vector<Bracket> m_brackets;
    std::optional<MappedText> m_version;
    std::array<std::size_t, k_match_field_count> m_offsets{};
};

bool MatchSpec::Parser::run() {
    if (m_text.size() > k_max_length)
        return fail(k_max_length, "match spec longer than 16384 characters");
    for (std::size_t i = 0; i < m_text.size(); ++i) {
        const auto c = static_cast<unsigned char>(m_text[i]);
        if (c < 0x20 || c == 0x7f)
            return fail(i, "control character in match spec");
    }
    std::size_t b = 0;
    std::size_t e = m_text.size();
    while (b < e && is_space(m_text[b]))
        ++b;
    while (e > b && is_space(m_text[e - 1]))
        --e;
    if (b == e)
        return fail(0, "empty match spec");

    // 1. A trailing '@' is a legacy feature spec: 'mkl@' is '*[track_features=mkl]'.
    if (m_text[e - 1] == '@') {
        const std::string_view feature = util::trim(m_text.substr(b, e - 1 - b));
        if (feature.empty())
            return fail(e - 1, "missing feature name before '@'");
        // conda takes anything before the '@'; a feature is an identifier ("mkl", "vc14").
        const std::size_t feature_begin = m_text.find(feature.front(), b);
        for (std::size_t k = 0; k < feature.size(); ++k) {
            if (!is_alnum(feature[k]) && !is_one_of(feature[k], "_.+-"))
                return fail(feature_begin + k,
                            "invalid feature name: unexpected " + describe(feature[k]));
        }
        set(MatchField::track_features, std::string(feature), b);
        m_out.m_track_features = feature_set({std::string(feature)});
        return true;
    }
    // 2. A comment from the first '#', then an ignored ' if ...' condition.
    if (const std::size_t hash = m_text.find('#', b); hash < e)
        e = hash;
    if (const std::size_t cond = m_text.substr(0, e).find(" if ", b);
        cond != std::string_view::npos)
        e = cond;
    while (e > b && is_space(m_text[e - 1]))
        --e;
    if (b == e)
        return fail(b, "empty match spec");
    // 3. A package URL or path.
    const std::string_view whole = m_text.substr(b, e - b);
    if (ends_with(whole, ".conda") || ends_with(whole, ".tar.bz2"))
        return package_file(b, e);
    // 4. The bracket section, which must come last.
    std::size_t positional_end = e;
    if (const std::size_t open = m_text.substr(0, e).find('[', b); open != std::string_view::npos) {
        if (!brackets(open, e))
            return false;
        positional_end = open;
    }
    while (positional_end > b && is_space(m_text[positional_end - 1]))
        --positional_end;
    // 5. A legacy '(target=..., optional)' section is ignored.
    positional_end = drop_legacy_parens(b, positional_end);
    // 6. 'channel:namespace:rest' by the last two colons; the namespace is ignored.
    const std::string_view positional = m_text.substr(0, positional_end);
    std::size_t name_begin = b;
    if (const std::size_t c1 = positional.rfind(':'); c1 != std::string_view::npos && c1 >= b) {
        name_begin = c1 + 1;
        if (c1 > b) {
            const std::size_t c2 = positional.rfind(':', c1 - 1);
            if (c2 != std::string_view::npos && c2 >= b)
                if (!set_channel(positional.substr(b, c2 - b), b))
                    return false;
        }
    }
    // 7. The name runs up to the first space or operator character.
    std::size_t name_end = name_begin;
    while (name_end < positional_end && !is_one_of(m_text[name_end], " =<>!~"))
        ++name_end;
    if (name_end == name_begin)
        return fail(name_begin, "missing package name");
    if (positional_end - name_end == 1) {
        // conda accepts 'numpy=' as 'numpy' (and silently drops a lone '<', '>', '!' or '~',
        // which is rejected here so that a typo does not drop a constraint).
        if (m_text[name_end] != '=')
            return fail(name_end + 1,
                        std::string("missing version after '") + m_text[name_end] + "'");
    } else if (positional_end > name_end) {
        if (!version_and_build(name_end, positional_end))
            return false;
    }
    if (!set_name(m_text.substr(name_begin, name_end - name_begin), name_begin))
        return false;
    for (const Bracket& bracket : m_brackets) {
        if (!apply(bracket))
            return false;
    }
    return compile();
}

bool MatchSpec::Parser::package_file(std::size_t begin, std::size_t end) {
    const std::string_view given = m_text.substr(begin, end - begin);
    const std::string url = is_url(given) ? std::string(given) : path_to_url(given);
    const std::size_t slash = url.find_last_of(url.find("://") == std::string::npos ? "/\\" : "/");
    const std::string_view fn = slash == std::string::npos
                                    ? std::string_view(url)
                                    : std::string_view(url).substr(slash + 1);
    const std::string_view dir =
        slash == std::string::npos ? std::string_view() : std::string_view(url).substr(0, slash);
    const std::size_t fn_offset = end - fn.size();
    const auto [channel, subdir] = split_subdir(dir);
    set(MatchField::url, url, begin);
    if (!split_subdir(tidy_channel(channel)).second.empty())
        return fail(begin, "ambiguous channel '" + std::string(tidy_channel(channel)) +
                               "': its last component is a subdir name");
    if (subdir.empty() || tidy_channel(channel).empty()) {
        // Not inside a channel: conda keeps only the file name and the URL.
        const bool file_url = url.rfind("file://", 0) == 0;
        set(MatchField::fn, file_url ? percent_decode(fn) : std::string(fn), fn_offset);
        return compile();
    }
    std::string_view stem = fn;
    stem.remove_suffix(ends_with(fn, ".conda") ? 6 : 8);
    const std::size_t last = stem.rfind('-');
    const std::size_t middle = last == std::string_view::npos || last == 0
                                   ? std::string_view::npos
                                   : stem.rfind('-', last - 1);
    if (middle == std::string_view::npos)
        return fail(fn_offset, "package file name is not <name>-<version>-<build>");
    set(MatchField::channel, canonical_channel_name(tidy_channel(channel)), begin);
    set(MatchField::subdir, std::string(subdir), begin);
    set(MatchField::fn, std::string(fn), fn_offset);
    set(MatchField::build, std::string(stem.substr(last + 1)), fn_offset + last + 1);
    MappedText version;
    const std::string_view raw = stem.substr(middle + 1, last - middle - 1);
    // conda hands the file's version to VersionSpec as it is; a file name holds a version
    // literal (CEP 26), so anything else (an operator, a '*') is rejected rather than read as
    // a range.
    ParseFailure literal;
    if (!CondaVersion::try_parse(raw, &literal))
        return fail(fn_offset + middle + 1 + literal.offset, literal.reason);
    if (const std::size_t star = raw.find('*'); star != std::string_view::npos)
        return fail(fn_offset + middle + 1 + star, "invalid character '*' in a package version");
    for (std::size_t i = 0; i < raw.size(); ++i) {
        version.text += raw[i];
        version.origin.push_back(fn_offset + middle + 1 + i);
    }
    version.end_offset = fn_offset + last;
    m_version = std::move(version);
    if (!set_name(stem.substr(0, middle), fn_offset))
        return false;
    return compile();
}

// Reads '[key=value, key="value with spaces", ...]'; values may be quoted with ' or ".
bool MatchSpec::Parser::brackets(std::size_t open, std::size_t end) {
    std::size_t i = open + 1;
    for (;;) {
        while (i < end && (m_text[i] == ',' || m_text[i] == ' '))
            ++i;
        if (i >= end)
            return fail(open, "unterminated '['");
        if (m_text[i] == ']')
            break;
        const std::size_t key_begin = i;
        while (i < end && (is_alnum(m_text[i]) || m_text[i] == '_' || m_text[i] == '-'))
            ++i;
        const std::string_view key = m_text.substr(key_begin, i - key_begin);
        if (key.empty())
            return fail(i, std::string("expected a key in brackets, found '") + m_text[i] + "'");
        if (i >= end || m_text[i] != '=') {
            if (key == "optional")
                continue;  // conda's legacy bare keyword, ignored
            return fail(i, "expected '=' after '" + std::string(key) + "'");
        }
        ++i;
        std::size_t value_begin = i;
        std::string_view value;
        if (i < end && (m_text[i] == '\'' || m_text[i] == '"')) {
            const char quote = m_text[i];
            const std::size_t close = m_text.find(quote, i + 1);
            if (close == std::string_view::npos || close >= end)
                return fail(i, "unterminated quote");
            value_begin = i + 1;
            value = m_text.substr(value_begin, close - value_begin);
            i = close + 1;
            if (i < end && m_text[i] != ',' && m_text[i] != ' ' && m_text[i] != ']')
                return fail(i, "expected ',' or ']' after a quoted value");
        } else {
            while (i < end && !is_one_of(m_text[i], ", ]")) {
                // conda takes '=' unquoted ('[version=>=1.0]'); brackets and quotes need quoting.
                if (is_one_of(m_text[i], "['\""))
                    return fail(i, std::string("quote a value that contains '") + m_text[i] + "'");
                ++i;
            }
            value = m_text.substr(value_begin, i - value_begin);
        }
        if (value.empty())
            return fail(value_begin, "empty value for '" + std::string(key) + "'");
        const auto field = match_field_from_name(key);
        if (!field)
            return fail(key_begin, "cannot match on field '" + std::string(key) + "'");
        m_brackets.push_back(Bracket{*field, std::string(value), value_begin});
    }
    std::size_t after = i + 1;
    while (after < end && is_space(m_text[after]))
        ++after;
    if (after < end && m_text[after] == '(' && m_text[end - 1] == ')')
        return true;  // conda allows a legacy '(...)' block after the brackets, and ignores it
    if (after < end) {
        return fail(after, m_text[after] == '[' ? "multiple bracket sections not allowed"
                                                : "unexpected text after ']'");
    }
    return true;
}

// conda strips any '(...)' from a spec; only the legacy '(target=x, optional)' form is dropped
// here, so that 'numpy (>=1.8)' keeps its constraint (conda would silently drop it).
std::size_t MatchSpec::Parser::drop_legacy_parens(std::size_t begin, std::size_t end) const {
    if (end == begin || m_text[end - 1] != ')')
        return end;
    const std::size_t open = m_text.substr(0, end).rfind('(');
    if (open == std::string_view::npos || open < begin)
        return end;
    const std::string_view inside = m_text.substr(open + 1, end - open - 2);
    if (inside.find_first_not_of(", ") == std::string_view::npos)
        return end;  // '()' is not the legacy form, and would be dropped again on every read
    std::size_t i = 0;
    while (i < inside.size()) {
        while (i < inside.size() && (inside[i] == ',' || inside[i] == ' '))
            ++i;
        const std::size_t key = i;
        while (i < inside.size() && (is_alnum(inside[i]) || inside[i] == '_'))
            ++i;
        if (i == key || !(inside[key] >= 'a' && inside[key] <= 'z'))
            return end;
        if (i < inside.size() && inside[i] == '=') {
            while (i < inside.size() && inside[i] != ',')
                ++i;
        } else if (inside.substr(key, i - key) != "optional") {
            return end;
        }
    }
    std::size_t out = open;
    while (out > begin && is_space(m_text[out - 1]))
        --out;
    return out;
}

bool MatchSpec::Parser::set_channel(std::string_view value, std::size_t offset) {
    const std::string url = path_to_url(tidy_channel(value));
    const auto [rest, subdir] = split_subdir(url);
    const std::string_view channel = tidy_channel(rest);
    // CEP 26 leaves a channel whose last component is a subdir name undefined; it could not be
    // written back unambiguously either.
    if (!split_subdir(channel).second.empty())
        return fail(offset, "ambiguous channel '" + std::string(channel) +
                                "': its last component is a subdir name");
    if (!channel.empty())
        set(MatchField::channel, std::string(channel), offset);
    if (!subdir.empty())
        set(MatchField::subdir, std::string(subdir), offset);
    return true;
}

// Splits 'version build' or 'version=build' as conda's _VERSION_BUILD_RE does: the build is
// the text after the first ' ' or '=' that does not follow an operator character and after
// which no '-', '=', ',', '|', '<', '>' or '~' occurs.
bool MatchSpec::Parser::version_and_build(std::size_t begin, std::size_t end) {
    while (begin < end && is_space(m_text[begin]))
        ++begin;
    const std::string_view s = m_text.substr(begin, end - begin);
    const std::size_t forbidden = s.find_last_of("-=,|<>~");
    std::size_t separator = std::string_view::npos;
    for (std::size_t k =
             std::max<std::size_t>(1, forbidden == std::string_view::npos ? 1 : forbidden);
         k + 1 < s.size(); ++k) {
        if ((s[k] == ' ' || s[k] == '=') && !is_one_of(s[k - 1], "=!|,<>~")) {
            separator = k;
            break;
        }
    }
    std::string_view version = s;
    if (separator != std::string_view::npos) {
        version = s.substr(0, separator);
        const std::size_t build_offset = begin + separator + 1;
        std::string_view build = s.substr(separator + 1);
        std::size_t lead = 0;
        while (lead < build.size() && is_space(build[lead]))
            ++lead;
        build.remove_prefix(lead);
        for (std::size_t k = 0; k < build.size(); ++k) {
            if (is_space(build[k]))
                return fail(build_offset + lead + k,
                            "too many fields: a spec is name, version and build");
        }
        set(MatchField::build, std::string(build), build_offset + lead);
    }
    MappedText mapped = without_spaces(version, begin);
    sanitize_version(mapped, separator != std::string_view::npos);
    m_version = std::move(mapped);
    return true;
}

bool MatchSpec::Parser::set_name(std::string_view name, std::size_t offset) {
    if (name.size() > k_max_name_length)
        return fail(offset + k_max_name_length, "package name longer than 64 characters");
    m_out.m_name = util::to_lower(name);
    const std::string& lowered = m_out.m_name;
    if (lowered.find('*') != std::string::npos) {
        if (lowered.find_first_not_of('*') == std::string::npos) {
            m_out.m_name = "*";
            return true;
        }
        const bool regex = lowered.size() >= 2 && lowered.front() == '^' && lowered.back() == '$';
        // A glob can only match CEP 26 names, so other characters are mistakes ('@' would also
        // turn the canonical form into a feature spec).
        const std::size_t bad =
            regex ? std::string::npos
                  : lowered.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-*");
        if (bad != std::string::npos)
            return fail(offset + bad, "invalid package name: unexpected " + describe(name[bad]));
        ParseFailure failure;
        m_out.m_name_matcher = StringMatcher::try_parse(lowered, &failure);
        return m_out.m_name_matcher.has_value() || fail(offset + failure.offset, failure.reason);
    }
    if (const std::size_t bad = invalid_name_offset(lowered); bad != std::string_view::npos) {
        const std::string reason = bad < lowered.size()
                                       ? "invalid package name: unexpected " + describe(name[bad])
                                       : "invalid package name: it cannot end there";
        return fail(offset + bad, reason);
    }
    m_out.m_name_matcher = StringMatcher::try_parse(lowered);
    return true;
}

bool MatchSpec::Parser::apply(const Bracket& bracket) {
    switch (bracket.field) {
        case MatchField::name:
            return true;  // conda ignores a bracketed name
        case MatchField::channel:
            return set_channel(bracket.value, bracket.offset);
        case MatchField::version: {
            MappedText mapped = without_spaces(bracket.value, bracket.offset);
            sanitize_version(mapped, false);
            m_version = std::move(mapped);
            return true;
        }
        default:
            set(bracket.field, bracket.value, bracket.offset);
            return true;
    }
}

bool MatchSpec::Parser::compile_build_number(const std::string& value, std::size_t offset) {
    BuildNumber out;
    const std::string_view t = util::trim(value);
    if (t == "*") {
        m_out.m_build_number = out;
        return true;
    }
    if (t.size() >= 2 && t.front() == '^' && t.back() == '$') {
        ParseFailure failure;
        out.regex = StringMatcher::try_parse(t, &failure);
        if (!out.regex)
            return fail(offset + failure.offset, failure.reason);
        out.op = BuildNumber::Op::regex;
        m_out.m_build_number = std::move(out);
        return true;
    }
    std::size_t i = 0;
    const std::string_view two = t.substr(0, 2);
    using Op = BuildNumber::Op;
    if (two == "==" || two == "!=" || two == "<=" || two == ">=") {
        out.op = two == "==" ? Op::eq : two == "!=" ? Op::ne : two == "<=" ? Op::le : Op::ge;
        i = 2;
    } else if (!t.empty() && is_one_of(t[0], "=<>")) {
        out.op = t[0] == '=' ? Op::eq : t[0] == '<' ? Op::lt : Op::gt;
        i = 1;
    } else {
        out.op = Op::eq;
        if (!t.empty() && (t[0] == '+' || t[0] == '-'))
            i = 1;
    }
    const bool negative = i == 1 && t[0] == '-';
    if (i >= t.size())
        return fail(offset, "invalid build number '" + value + "'");
    std::int64_t number = 0;
    for (std::size_t k = i; k < t.size(); ++k) {
        if (t[k] < '0' || t[k] > '9')
            return fail(offset, "invalid build number '" + value + "'");
        if (number > (std::numeric_limits<std::int64_t>::max() - 9) / 10)
            return fail(offset, "build number too large");
        number = number * 10 + (t[k] - '0');
    }
    out.value = negative ? -number : number;
    m_out.m_build_number = std::move(out);
    return true;
}

// Builds the matchers from the raw values, reporting errors at the value's offset.
bool MatchSpec::Parser::compile() {
    MatchSpec& out = m_out;
    out.m_text = std::string(m_text);
    if (m_version) {
        ParseFailure failure;
        out.m_version = VersionSpec::try_parse(m_version->text, &failure);
        if (!out.m_version)
            return fail(m_version->offset_of(failure.offset), failure.reason);
        out.m_values[index(MatchField::version)] = m_version->text;
    }
    for (std::size_t f = 0; f < k_match_field_count; ++f) {
        const auto field = static_cast<MatchField>(f);
        const std::optional<std::string>& value = out.m_values[f];
        if (!value)
            continue;
        switch (field) {
            case MatchField::name:
            case MatchField::version:
            case MatchField::when:
            case MatchField::extras:
            case MatchField::flags:
                break;  // kept as text; not tested against a PackageInfo
            case MatchField::build_number:
                if (!compile_build_number(*value, m_offsets[f]))
                    return false;
                break;
            case MatchField::track_features:
                out.m_track_features = feature_set({*value});
                break;
            case MatchField::features:
                out.m_features = feature_set({*value});
                break;
            case MatchField::channel: {
                if (*value == "*")
                    break;
                ChannelMatcher channel;
                channel.value = *value;
                channel.is_url = is_url(*value);
                if (value->find('*') != std::string::npos ||
                    (value->size() >= 2 && value->front() == '^' && value->back() == '$')) {
                    ParseFailure failure;
                    channel.pattern = StringMatcher::try_parse(*value, &failure);
                    if (!channel.pattern)
                        return fail(m_offsets[f] + failure.offset, failure.reason);
                }
                out.m_channel = std::move(channel);
                break;
            }
            default: {
                ParseFailure failure;
                out.m_matchers[f] = StringMatcher::try_parse(*value, &failure);
                if (!out.m_matchers[f])
                    return fail(m_offsets[f] + failure.offset, failure.reason);
                if (out.m_matchers[f]->matches_all())
                    out.m_matchers[f].reset();
            }
        }
    }
    return true;
}

std::optional<MatchSpec> MatchSpec::try_parse(std::string_view text, ParseFailure* failure) {
    MatchSpec spec;
    Parser parser(text, spec, failure);
    if (!parser.run())
        return std::nullopt;
    spec.m_text = std::string(text);
    return spec;
}

MatchSpec MatchSpec::parse(std::string_view text) {
    ParseFailure failure;
    auto spec = try_parse(text, &failure);
    if (!spec)
        util::throw_parse_error("match spec", text, failure.offset, failure.reason);
    return std::move(*spec);
}

bool MatchSpec::BuildNumber::matches(std::int64_t number) const {
    switch (op) {
        case Op::any:
            return true;
        case Op::eq:
            return number == value;
        case Op::ne:
            return number != value;
        case Op::lt:
            return number < value;
        case Op::le:
            return number <= value;
        case Op::gt:
            return number > value;
        case Op::ge:
            return number >= value;
        case Op::regex:
            return regex->matches(std::to_string(number));
    }
    return false;
}

// A name matches the canonical channel conda list shows; a URL matches the recorded channel
// URL with or without its subdir and trailing slash (and the name conda derives from it).
bool MatchSpec::ChannelMatcher::matches(const PackageInfo& package) const {
    const std::string_view recorded = !package.channel.empty()
                                          ? std::string_view(package.channel)
                                          : std::string_view(package.channel_url);
    const std::string name = canonical_channel_name(recorded);
    if (pattern)
        return pattern->matches(name) || pattern->matches(split_subdir(package.channel_url).first);
    if (is_url) {
        for (const std::string_view candidate :
             {std::string_view(package.channel_url), std::string_view(package.channel)}) {
            if (!candidate.empty() && util::iequals(split_subdir(candidate).first, value))
                return true;
        }
        const std::string value_name = canonical_channel_name(value);
        return value_name != value && util::iequals(value_name, name);
    }
    if (util::iequals(name, value))
        return true;
    if (value == "defaults") {
        return std::find(k_default_channels.begin(), k_default_channels.end(), name) !=
               k_default_channels.end();
    }
    return false;
}

bool MatchSpec::matches(const PackageInfo& p) const {
    if (m_name_matcher && !m_name_matcher->matches(p.name))
        return false;
    if (m_version && !m_version->matches_all()) {
        const auto version = CondaVersion::try_parse(p.version);
        if (!version || !m_version->contains(*version))
            return false;
    }
    const auto field_ok = [&](MatchField field, std::string_view subject) {
        const auto& matcher = m_matchers[index(field)];
        return !matcher || matcher->matches(subject);
    };
    if (!field_ok(MatchField::build, p.build))
        return false;
    if (m_build_number && !m_build_number->matches(p.build_number))
        return false;
    if (m_channel && !m_channel->matches(p))
        return false;
    const std::string_view subdir =
        !p.subdir.empty() ? std::string_view(p.subdir) : split_subdir(p.channel_url).second;
    if (!field_ok(MatchField::subdir, subdir) || !field_ok(MatchField::fn, p.fn) ||
        !field_ok(MatchField::url, p.url) || !field_ok(MatchField::md5, p.md5) ||
        !field_ok(MatchField::sha256, p.sha256) || !field_ok(MatchField::license, p.license) ||
        !field_ok(MatchField::license_family, p.license_family))
        return false;
    if (m_track_features && *m_track_features != feature_set(p.track_features))
        return false;
    if (m_features && *m_features != feature_set(p.features))
        return false;
    return true;
}

bool MatchSpec::is_name_only() const {
    if (m_name == "*" || m_name.find('*') != std::string::npos || m_version)
        return false;
    for (std::size_t f = 0; f < k_match_field_count; ++f) {
        if (m_values[f])
            return false;
    }
    return true;
}

std::string MatchSpec::to_string() const {
    std::string out;
    std::vector<std::string> brackets;
    // Quotes with ' as conda does (with " when the value holds a '), where the value holds a
    // special character or one the bracket reader needs quoted.
    const auto quoted = [](std::string_view key, std::string_view value,
                           std::string_view specials) {
        const bool quote = value.find_first_of(specials) != std::string_view::npos ||
                           value.find_first_of("'\"[] ") != std::string_view::npos;
        const char* q = value.find('\'') != std::string_view::npos ? "\"" : "'";
        return std::string(key) + "=" + (quote ? q : "") + std::string(value) + (quote ? q : "");
    };
    const auto& channel = m_values[index(MatchField::channel)];
    // The channel goes before '::' when it is one channel that reads back the same there; a
    // subdir follows it with '/' only when conda would split it off again.
    const bool channel_exact = channel && channel->find_first_of("*[]") == std::string::npos &&
                               !(channel->front() == '^' && channel->back() == '$');
    if (channel_exact)
        out += is_url(*channel) ? canonical_channel_name(*channel) : *channel;
    else if (channel && *channel != "*")
        brackets.push_back(quoted("channel", *channel, ", ="));
    if (const auto& subdir = m_values[index(MatchField::subdir)]) {
        if (channel_exact && is_known_subdir(*subdir))
            out += "/" + *subdir;
        else
            brackets.push_back(quoted("subdir", *subdir, ", ="));
    }
    out += (out.empty() ? "" : "::") + m_name;
    bool version_exact = false;
    const auto& build = m_values[index(MatchField::build)];
    if (m_version && !m_version->matches_all()) {
        const std::string v = m_version->normalized();
        const bool op = is_one_of(v.front(), "=<>!~");
        const std::size_t star = v.find('*');
        const bool inner_glob = star != std::string::npos && star + 1 < v.size();
        // The positional forms are '==X' (exact), '=X' (X.* or X*), and '!=X' or '~=X' without
        // a build; everything else goes in brackets, where conda's str() would write globs inside
        // ('1.*.1') or operators with a '*' ('==1.0*') positionally and so change their meaning.
        const bool exact = v.rfind("==", 0) == 0 && star == std::string::npos;
        const bool negated = v.rfind("!=", 0) == 0 || v.rfind("~=", 0) == 0;
        if (v.find_first_of("><$^|,@") != std::string::npos || inner_glob ||
            (op && !exact && !negated) || (negated && build)) {
            // Parentheses keep a leading '=' from being read as conda's '=X' shorthand.
            const std::string value = v.front() == '=' ? "(" + v + ")" : v;
            const char* q = value.find('\'') != std::string::npos ? "\"" : "'";
            brackets.push_back(std::string("version=") + q + value + q);
        } else if (negated) {
            out += v;
        } else if (!op && ends_with(v, ".*")) {
            out += "=" + v.substr(0, v.size() - 2);
        } else if (!op && v.back() == '*') {
            out += "=" + v.substr(0, v.size() - 1);
        } else {
            out += exact ? v : "==" + v;
            version_exact = true;
        }
    }
    if (build) {
        const bool plain = build->find_first_of("*><$^|, =[]()'\"#@:") == std::string::npos;
        if (version_exact && plain)
            out += "=" + *build;
        else
            brackets.push_back(quoted("build", *build, "><$^|,="));
    }
    for (const MatchField field :
         {MatchField::build_number, MatchField::track_features, MatchField::features,
          MatchField::url, MatchField::md5, MatchField::sha256, MatchField::license,
          MatchField::license_family, MatchField::fn, MatchField::when, MatchField::extras,
          MatchField::flags}) {
        const auto& value = m_values[index(field)];
        if (!value)
            continue;
        if (field == MatchField::url && channel)
            continue;  // conda leaves the URL out when the channel is shown
        if (field == MatchField::fn && m_values[index(MatchField::url)])
            continue;
        brackets.push_back(quoted(match_field_name(field), *value, ", ="));
    }
    // Empty brackets keep a name or build ending in '.conda' from reading back as a file name.
    if (!brackets.empty() || ends_with(out, ".conda") || ends_with(out, ".tar.bz2")) {
        out += '[';
        for (std::size_t k = 0; k < brackets.size(); ++k)
            out += (k > 0 ? "," : "") + brackets[k];
        out += ']';
    }
    return out;
}

}  // namespace gpuenv::core::spec
