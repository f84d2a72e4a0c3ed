#include <bulb/future.hpp>
