/**
 * Autoscaling as a pure function of metrics and config (Ray Serve's calculate_desired_num_replicas
 * with smoothing 1) plus a hysteresis counter: a decision to scale up (down) takes effect only after
 * it has held for upscaleDelayS (downscaleDelayS) of consecutive control periods.
 */
export interface AutoscalingConfig {
  /** Fewest replicas [1]. */
  minReplicas?: number;
  /** Most replicas [max(minReplicas, 1) … default 4]. */
  maxReplicas?: number;
  /** Replicas at start [minReplicas]. */
  initialReplicas?: number;
  /** Ongoing + queued requests per replica to aim for [2]. */
  targetOngoingRequests?: number;
  /** Seconds an upscale decision must hold [1]. */
  upscaleDelayS?: number;
  /** Seconds a downscale decision must hold [10]. */
  downscaleDelayS?: number;
}

export interface ResolvedAutoscalingConfig {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly initialReplicas: number;
  readonly targetOngoingRequests: number;
  readonly upscaleDelayS: number;
  readonly downscaleDelayS: number;
}

/** Load seen by the proxy and handles for one deployment. */
export interface AutoscalingMetrics {
  /** Requests running on or queued for the deployment (sum over every caller). */
  readonly totalOngoing: number;
  readonly currentReplicas: number;
}

/** Replicas the load asks for, clamped to [min, max]. */
export function desiredReplicas(m: AutoscalingMetrics, c: ResolvedAutoscalingConfig): number {
  const raw = Math.ceil(m.totalOngoing / c.targetOngoingRequests);
  return Math.min(c.maxReplicas, Math.max(c.minReplicas, raw));
}

/** Hysteresis state kept by the controller between periods (plain data: it survives a restore). */
export interface ScalingState {
  /** Consecutive periods wanting more (>0) or fewer (<0) replicas. */
  readonly streak: number;
}

/**
 * One control period: returns the replica count to apply (or `current` while a decision has not held
 * long enough) and the next state.
 */
export function autoscaleStep(
  m: AutoscalingMetrics,
  c: ResolvedAutoscalingConfig,
  s: ScalingState,
  periodS: number,
): { replicas: number; state: ScalingState } {
  const want = desiredReplicas(m, c);
  const cur = m.currentReplicas;
  if (want > cur) {
    const streak = s.streak > 0 ? s.streak + 1 : 1;
    if (streak * periodS >= c.upscaleDelayS) return { replicas: want, state: { streak: 0 } };
    return { replicas: cur, state: { streak } };
  }
  if (want < cur) {
    const streak = s.streak < 0 ? s.streak - 1 : -1;
    if (-streak * periodS >= c.downscaleDelayS) return { replicas: want, state: { streak: 0 } };
    return { replicas: cur, state: { streak } };
  }
  return { replicas: cur, state: { streak: 0 } };
}
