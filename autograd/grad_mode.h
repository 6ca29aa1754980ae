#pragma once
/// @file
/// Grad mode and anomaly mode: thread-local switches with RAII guards.

namespace tg {

/// Whether ops are recorded on the current thread (on by default), as
/// torch.is_grad_enabled / torch.set_grad_enabled.
///@{
bool is_grad_enabled();
void set_grad_enabled(bool enabled);
///@}

/// Turns recording off for the current thread while alive.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Turns recording on (inside a NoGradGuard, say) while alive.
class EnableGradGuard {
 public:
  EnableGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

/// Whether anomaly mode is on for the current thread (see DetectAnomalyGuard).
///@{
bool is_anomaly_enabled();
void set_anomaly_enabled(bool enabled);
///@}

/// While alive, ops remember where they were recorded, and a NaN or Inf
/// produced in backward throws AutogradError naming the op and that place.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : previous_(is_anomaly_enabled()) { set_anomaly_enabled(true); }
  ~DetectAnomalyGuard() { set_anomaly_enabled(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace tg
