// SPDX-License-Identifier: MIT
/// @file
/// accept4() interposed to count calls (see syscall_spy.hpp).
#include "syscall_spy.hpp"

#include <atomic>
#include <cerrno>

#include <dlfcn.h>
#include <sys/socket.h>

namespace bulb_transport_test::syscall_spy {
namespace {
std::atomic<std::size_t> calls{0}, emfile{0};
}
std::size_t accept_calls() { return calls.load(); }
std::size_t accept_emfile_failures() { return emfile.load(); }

int counted_accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
    using Fn = int (*)(int, sockaddr*, socklen_t*, int);
    static Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "accept4"));
    ++calls;
    int r = real(fd, addr, len, flags);
    if (r < 0 && errno == EMFILE) ++emfile;
    return r;
}

}  // namespace bulb_transport_test::syscall_spy

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
    return bulb_transport_test::syscall_spy::counted_accept4(fd, addr, len, flags);
}
