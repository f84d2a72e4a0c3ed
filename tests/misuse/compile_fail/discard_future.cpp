// expect: the returned Future is the only way to see the result or error
#include <bulb/bulb.hpp>
#include <bulb/future.hpp>
#include <bulb/protocol.hpp>

#include <memory>

void forgetful(bulb::EventLoop& loop) {
    loop.create_connection([] { return std::unique_ptr<bulb::Protocol>(); }, "127.0.0.1", 1);
}

int main() {}
