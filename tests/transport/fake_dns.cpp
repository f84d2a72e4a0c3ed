// SPDX-License-Identifier: MIT
/// @file
/// The fake resolver: getaddrinfo/freeaddrinfo interposed by the test executable.
#include "fake_dns.hpp"

#include <bulb/address.hpp>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include <dlfcn.h>
#include <netdb.h>

namespace bulb_transport_test::fake_dns {
namespace {

struct Entry {
    std::vector<std::string> hosts;
    std::chrono::milliseconds delay;
    std::size_t calls = 0;
    std::vector<std::thread::id> threads;
};

std::mutex mu;
std::map<std::string, Entry>& table() {
    static std::map<std::string, Entry> t;
    return t;
}
std::set<addrinfo*>& ours() {
    static std::set<addrinfo*> s;
    return s;
}

bool is_fake(const char* node) {
    if (!node) return false;
    std::size_t n = std::strlen(node);
    return n > 10 && std::strcmp(node + n - 10, ".bulb.test") == 0;
}

struct Node {
    addrinfo ai;
    sockaddr_storage ss;
};

}  // namespace

void set(const std::string& name, std::vector<std::string> hosts, std::chrono::milliseconds delay) {
    std::lock_guard lock(mu);
    table()[name] = Entry{std::move(hosts), delay, 0, {}};
}

void reset() {
    std::lock_guard lock(mu);
    table().clear();
}

std::size_t calls(const std::string& name) {
    std::lock_guard lock(mu);
    auto it = table().find(name);
    return it == table().end() ? 0 : it->second.calls;
}

std::vector<std::thread::id> threads(const std::string& name) {
    std::lock_guard lock(mu);
    auto it = table().find(name);
    return it == table().end() ? std::vector<std::thread::id>{} : it->second.threads;
}

/// The answer for a fake name (EAI_NONAME when unknown or numeric-only was asked).
int answer(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
    if (hints && (hints->ai_flags & AI_NUMERICHOST)) return EAI_NONAME;
    std::vector<std::string> hosts;
    std::chrono::milliseconds delay{0};
    {
        std::lock_guard lock(mu);
        auto it = table().find(node);
        if (it == table().end()) return EAI_NONAME;
        ++it->second.calls;
        it->second.threads.push_back(std::this_thread::get_id());
        hosts = it->second.hosts;
        delay = it->second.delay;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    const int family = hints ? hints->ai_family : AF_UNSPEC;
    const auto port = static_cast<std::uint16_t>(service ? std::atoi(service) : 0);
    addrinfo* head = nullptr;
    addrinfo** tail = &head;
    for (auto& h : hosts) {
        auto addr = bulb::SocketAddress::from_ip(h, port);
        if (family != AF_UNSPEC && family != addr.family()) continue;
        auto* n = static_cast<Node*>(std::calloc(1, sizeof(Node)));
        std::memcpy(&n->ss, addr.data(), addr.size());
        n->ai.ai_family = addr.family();
        n->ai.ai_socktype = SOCK_STREAM;
        n->ai.ai_protocol = IPPROTO_TCP;
        n->ai.ai_addrlen = addr.size();
        n->ai.ai_addr = reinterpret_cast<sockaddr*>(&n->ss);
        *tail = &n->ai;
        tail = &n->ai.ai_next;
    }
    if (!head) return EAI_NONAME;
    std::lock_guard lock(mu);
    ours().insert(head);
    *res = head;
    return 0;
}

}  // namespace bulb_transport_test::fake_dns

extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
    if (bulb_transport_test::fake_dns::is_fake(node))
        return bulb_transport_test::fake_dns::answer(node, service, hints, res);
    using Fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
    static Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "getaddrinfo"));
    return real(node, service, hints, res);
}

extern "C" void freeaddrinfo(addrinfo* res) {
    {
        std::lock_guard lock(bulb_transport_test::fake_dns::mu);
        if (bulb_transport_test::fake_dns::ours().erase(res) != 0) {
            while (res) {
                addrinfo* next = res->ai_next;
                std::free(res);  // the Node starts with its addrinfo
                res = next;
            }
            return;
        }
    }
    using Fn = void (*)(addrinfo*);
    static Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "freeaddrinfo"));
    real(res);
}
