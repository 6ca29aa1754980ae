#include <tapegrad/autograd/grad_mode.h>

#include <tapegrad/core/export.h>

namespace tg {
namespace {
thread_local bool tl_grad_enabled TG_TLS_FAST = true;
thread_local bool tl_anomaly_enabled TG_TLS_FAST = false;
}  // namespace

bool is_grad_enabled() { return tl_grad_enabled; }
void set_grad_enabled(bool enabled) { tl_grad_enabled = enabled; }
bool is_anomaly_enabled() { return tl_anomaly_enabled; }
void set_anomaly_enabled(bool enabled) { tl_anomaly_enabled = enabled; }

}  // namespace tg
