#include <gpuenv/core/spec/requirement.hpp>

#include <algorithm>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/parse_error.hpp>

namespace gpuenv::core::spec {
namespace {

constexpr std::string_view k_what = "PEP 508 requirement";

bool is_ascii_alnum(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_word(char c) {
    return static_cast<unsigned char>(c) >= 0x80 || c == '_' || is_ascii_alnum(c);
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool contains_char(std::string_view s, char c) {
    return s.find(c) != std::string_view::npos;
}

// Returns whether `host` is a dotted-quad IPv4 address as Python's ipaddress accepts it.
bool is_ipv4(std::string_view host) {
    std::size_t octets = 0;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = host.find('.', start);
        const std::string_view octet = host.substr(start, dot - start);
        if (octet.empty() || octet.size() > 3 || (octet.size() > 1 && octet[0] == '0') ||
            !std::all_of(octet.begin(), octet.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        if (std::stoi(std::string(octet)) > 255)
            return false;
        ++octets;
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return octets == 4;
}

// Returns whether `host` is an IPv6 address (with an optional %scope) as ipaddress accepts it.
bool is_ipv6(std::string_view host) {
    if (const std::size_t percent = host.find('%'); percent != std::string_view::npos) {
        const std::string_view scope = host.substr(percent + 1);
        if (scope.empty() || contains_char(scope, '%'))
            return false;
        host = host.substr(0, percent);
    }
    if (host.empty() || contains_char(host, '/'))
        return false;
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t colon = host.find(':', start);
        parts.push_back(host.substr(start, colon - start));
        if (colon == std::string_view::npos)
            break;
        start = colon + 1;
    }
    if (parts.size() < 3)
        return false;
    if (contains_char(parts.back(), '.')) {
        if (!is_ipv4(parts.back()))
            return false;
        parts.back() = "0";
        parts.push_back("0");
    }
    if (parts.size() > 9)
        return false;
    std::size_t skip = 0;
    for (std::size_t i = 1; i + 1 < parts.size(); ++i) {
        if (parts[i].empty()) {
            if (skip != 0)
                return false;
            skip = i;
        }
    }
    std::size_t hi = parts.size();
    std::size_t lo = 0;
    if (skip != 0) {
        hi = skip;
        lo = parts.size() - skip - 1;
        if (parts.front().empty() && --hi != 0)
            return false;
        if (parts.back().empty() && --lo != 0)
            return false;
        if (hi + lo > 7)
            return false;
    } else if (parts.size() != 8 || parts.front().empty() || parts.back().empty()) {
        return false;
    }
    const auto hextet = [](std::string_view p) {
        return !p.empty() && p.size() <= 4 && std::all_of(p.begin(), p.end(), is_hex);
    };
    for (std::size_t i = 0; i < hi; ++i) {
        if (!hextet(parts[i]))
            return false;
    }
    for (std::size_t i = parts.size() - lo; i < parts.size(); ++i) {
        if (!hextet(parts[i]))
            return false;
    }
    return true;
}

// Mirrors urllib.parse's checks of a bracketed host ("[::1]:8080").
bool bracketed_netloc_ok(std::string_view netloc) {
    const std::size_t at = netloc.rfind('@');
    const std::string_view host_port =
        at == std::string_view::npos ? netloc : netloc.substr(at + 1);
    std::string_view host;
    if (const std::size_t open = host_port.find('['); open != std::string_view::npos) {
        if (open != 0)
            return false;
        const std::string_view bracketed = host_port.substr(1);
        const std::size_t close = bracketed.find(']');
        host = bracketed.substr(0, close);
        const std::string_view port =
            close == std::string_view::npos ? std::string_view() : bracketed.substr(close + 1);
        if (!port.empty() && port[0] != ':')
            return false;
    } else {
        host = host_port.substr(0, host_port.find(':'));
    }
    if (!host.empty() && host[0] == 'v') {
        // IPvFuture: v<hex>.<anything>
        std::size_t i = 1;
        while (i < host.size() && is_hex(host[i]))
            ++i;
        return i > 1 && i + 1 < host.size() && host[i] == '.';
    }
    return !is_ipv4(host) && is_ipv6(host);
}

// Returns why packaging would reject the URL of `name @ url`, or "" when it accepts it:
// a file: URL must survive urllib's parse/unparse round trip, others need a scheme and a host.
std::string_view url_problem(std::string_view original) {
    std::string url;
    std::size_t lead = 0;
    while (lead < original.size() && static_cast<unsigned char>(original[lead]) <= 0x20)
        ++lead;
    for (const char c : original.substr(lead)) {
        if (c != '\t' && c != '\r' && c != '\n')
            url += c;
    }
    std::string scheme;
    std::string_view rest = url;
    const std::size_t colon = rest.find(':');
    if (colon != std::string_view::npos && colon > 0 &&
        ((rest[0] >= 'a' && rest[0] <= 'z') || (rest[0] >= 'A' && rest[0] <= 'Z')) &&
        std::all_of(rest.begin(), rest.begin() + static_cast<long>(colon),
                    [](char c) { return is_ascii_alnum(c) || c == '+' || c == '-' || c == '.'; })) {
        for (std::size_t i = 0; i < colon; ++i)
            scheme +=
                static_cast<char>((rest[i] >= 'A' && rest[i] <= 'Z') ? rest[i] + 32 : rest[i]);
        rest.remove_prefix(colon + 1);
    }
    std::string_view netloc;
    if (rest.substr(0, 2) == "//") {
        const std::size_t end = std::min(rest.size(), rest.find_first_of("/?#", 2));
        netloc = rest.substr(2, end - 2);
        rest.remove_prefix(end);
        if (contains_char(netloc, '[') != contains_char(netloc, ']'))
            return "invalid IPv6 URL";
        if (contains_char(netloc, '[') && !bracketed_netloc_ok(netloc))
            return "invalid IPv6 URL";
    }
    std::string_view fragment;
    std::string_view query;
    if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
        fragment = rest.substr(hash + 1);
        rest = rest.substr(0, hash);
    }
    if (const std::size_t mark = rest.find('?'); mark != std::string_view::npos) {
        query = rest.substr(mark + 1);
        rest = rest.substr(0, mark);
    }
    if (scheme == "file") {
        std::string path(rest);
        if (!netloc.empty() || path.substr(0, 2) != "//") {
            if (!path.empty() && path[0] != '/')
                path.insert(0, "/");
            path = "//" + std::string(netloc) + path;
        }
        std::string unparsed = scheme + ":" + path;
        if (!query.empty())
            unparsed += "?" + std::string(query);
        if (!fragment.empty())
            unparsed += "#" + std::string(fragment);
        return unparsed == original ? "" : "invalid file URL";
    }
    if (scheme.empty() || netloc.empty())
        return "invalid URL: expected a scheme and a host";
    return "";
}

// Walks packaging's requirement grammar over the text, filling the requirement.
class RequirementParser {
  public:
    explicit RequirementParser(std::string_view text) : m_text(text) {}

    Requirement run();

  private:
    [[noreturn]] void fail(std::size_t offset, std::string_view reason) const {
        util::throw_parse_error(k_what, m_text, offset, reason);
    }

    void skip_ws() {
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\t'))
            ++m_pos;
    }

    bool peek(char c) const { return m_pos < m_text.size() && m_text[m_pos] == c; }

    // packaging's END is the regex "$", which also matches before a final newline.
    bool at_end() const {
        return m_pos == m_text.size() || (m_pos + 1 == m_text.size() && m_text[m_pos] == '\n');
    }

    std::optional<std::string_view> identifier();
    void extras(Requirement& req);
    void specifiers(Requirement& req);
    void marker(Requirement& req);

    std::string_view m_text;
    std::size_t m_pos = 0;
};

// IDENTIFIER: [a-zA-Z0-9][a-zA-Z0-9._-]* ending at a word boundary (so not on "-" or ".").
std::optional<std::string_view> RequirementParser::identifier() {
    if (m_pos >= m_text.size() || !is_ascii_alnum(m_text[m_pos]))
        return std::nullopt;
    if (m_pos > 0 && is_word(m_text[m_pos - 1]))
        return std::nullopt;
    std::size_t run = m_pos + 1;
    while (run < m_text.size() && (is_ascii_alnum(m_text[run]) || m_text[run] == '.' ||
                                   m_text[run] == '_' || m_text[run] == '-'))
        ++run;
    for (std::size_t end = run; end > m_pos; --end) {
        const bool after = end < m_text.size() && is_word(m_text[end]);
        if (is_word(m_text[end - 1]) != after) {
            const std::string_view id = m_text.substr(m_pos, end - m_pos);
            m_pos = end;
            return id;
        }
    }
    return std::nullopt;
}

void RequirementParser::extras(Requirement& req) {
    if (!peek('['))
        return;
    ++m_pos;
    skip_ws();
    if (auto first = identifier()) {
        req.extras.push_back(normalize_pypi_name(*first));
        while (true) {
            skip_ws();
            if (const std::size_t at = m_pos; identifier())
                fail(at, "expected a comma between extra names");
            if (!peek(','))
                break;
            ++m_pos;
            skip_ws();
            const auto next = identifier();
            if (!next)
                fail(m_pos, "expected an extra name after the comma");
            req.extras.push_back(normalize_pypi_name(*next));
        }
    }
    skip_ws();
    if (!peek(']'))
        fail(m_pos, "expected ']'");
    ++m_pos;
    std::sort(req.extras.begin(), req.extras.end());
    req.extras.erase(std::unique(req.extras.begin(), req.extras.end()), req.extras.end());
}

void RequirementParser::specifiers(Requirement& req) {
    const bool parenthesized = peek('(');
    if (parenthesized)
        ++m_pos;
    skip_ws();
    // The clauses as the tokenizer reads them, joined by ","; where each came from.
    std::string joined;
    std::vector<std::pair<std::size_t, std::size_t>> origins;  // (offset in joined, in text)
    while (const std::size_t n = Specifier::match_length(m_text.substr(m_pos))) {
        origins.emplace_back(joined.size(), m_pos);
        joined += m_text.substr(m_pos, n);
        m_pos += n;
        skip_ws();
        if (!peek(','))
            break;
        origins.emplace_back(joined.size(), m_pos);
        joined += ',';
        ++m_pos;
        skip_ws();
    }
    skip_ws();
    if (parenthesized) {
        if (!peek(')'))
            fail(m_pos, "expected ')'");
        ++m_pos;
    }
    SpecParseFailure failure;
    auto set = SpecifierSet::try_parse(joined, failure);
    if (!set) {
        // Only "===" clauses reach here ("===a,b" is one token): map back into the text.
        std::size_t at = 0;
        for (const auto& [in_joined, in_text] : origins) {
            if (in_joined <= failure.offset)
                at = in_text + (failure.offset - in_joined);
        }
        fail(at, failure.reason);
    }
    req.specifier = std::move(*set);
}

void RequirementParser::marker(Requirement& req) {
    ++m_pos;  // ';'
    req.marker = Marker::parse_part(m_text, m_pos, k_what);
    skip_ws();
}

Requirement RequirementParser::run() {
    Requirement req;
    skip_ws();
    const auto name = identifier();
    if (!name)
        fail(m_pos, "expected a package name");
    req.name = std::string(*name);
    req.normalized_name = normalize_pypi_name(req.name);
    skip_ws();
    extras(req);
    skip_ws();
    if (peek('@')) {
        ++m_pos;
        skip_ws();
        const std::size_t url_begin = m_pos;
        while (m_pos < m_text.size() && m_text[m_pos] != ' ' && m_text[m_pos] != '\t')
            ++m_pos;
        if (m_pos == url_begin)
            fail(m_pos, "expected a URL after '@'");
        req.url = std::string(m_text.substr(url_begin, m_pos - url_begin));
        if (const std::string_view problem = url_problem(req.url); !problem.empty())
            fail(url_begin, problem);
        skip_ws();
        if (!at_end()) {
            if (!peek(';'))
                fail(m_pos, "expected the end or ';' after the URL and whitespace");
            marker(req);
        }
    } else {
        specifiers(req);
        skip_ws();
        if (!at_end()) {
            if (!peek(';')) {
                fail(m_pos, req.specifier.empty()
                                ? "expected the end or ';' after the name (no valid specifier)"
                                : "expected the end or ';' after the version specifier");
            }
            marker(req);
        }
    }
    if (!at_end())
        fail(m_pos, "expected the end of the requirement");
    return req;
}

}  // namespace

Requirement Requirement::parse(std::string_view text) {
    return RequirementParser(text).run();
}

bool Requirement::matches(std::string_view dist_name, std::string_view version,
                          const MarkerEnvironment& env) const {
    if (normalize_pypi_name(dist_name) != normalized_name)
        return false;
    if (marker && !marker->evaluate(env))
        return false;
    return specifier.contains(version, PreReleases::allow);
}

std::string Requirement::str() const {
    std::string out = name;
    if (!extras.empty()) {
        out += '[';
        for (std::size_t i = 0; i < extras.size(); ++i) {
            if (i > 0)
                out += ',';
            out += extras[i];
        }
        out += ']';
    }
    out += specifier.str();
    if (!url.empty()) {
        out += "@ " + url;
        if (marker)
            out += ' ';
    }
    if (marker)
        out += "; " + marker->str();
    return out;
}

}  // namespace gpuenv::core::spec
