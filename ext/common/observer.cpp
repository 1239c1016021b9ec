// Observer::check: the one place that turns a stop request into an error.
#include "common/observer.hpp"

#include "common/error.hpp"

namespace wb {

void Observer::check() {
    if (stop_requested()) throw Error(stop_reason(), ErrorKind::interrupted);
}

} // namespace wb
