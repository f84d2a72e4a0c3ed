#include <bulb/bulb.hpp>
#include <doctest/doctest.h>
#include <vector>
TEST_CASE("smoke") {
    bulb::EventLoop loop;
    std::vector<int> order;
    loop.call_later(std::chrono::milliseconds(5), [&] { order.push_back(3); loop.stop(); });
    loop.call_soon([&] { order.push_back(1); });
    loop.call_soon([&] { order.push_back(2); });
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 2, 3});
    loop.close();
}
