package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/strata-oss/strata/jobs/ledger"
)

// metrics are the daemon's Prometheus metrics, on a registry of its own
// (no global state: two daemons in one test process do not collide).
type metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	stage       *prometheus.HistogramVec
	runSeconds  *prometheus.HistogramVec
	rows        *prometheus.GaugeVec
	customers   prometheus.Gauge
	lastSuccess prometheus.Gauge
	inProgress  prometheus.Gauge
	ready       prometheus.Gauge
	psi         *prometheus.GaugeVec
	share       *prometheus.GaugeVec
}

func newMetrics() *metrics {
	// Runs last from seconds (small shops) to hours (tens of millions of
	// customers): 0.1 s … about 55 min.
	buckets := prometheus.ExponentialBuckets(0.1, 2, 16)
	m := &metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_runs_total",
			Help: "Finished runs by trigger (schedule, api, backfill) and result (succeeded, failed, skipped).",
		}, []string{"trigger", "result"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_stage_duration_seconds",
			Help:    "Duration of pipeline stages (extract, features, rfm, clv, cluster, publish).",
			Buckets: buckets,
		}, []string{"stage"}),
		runSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_run_duration_seconds",
			Help:    "Duration of runs that ran the pipeline, by result.",
			Buckets: buckets,
		}, []string{"result"}),
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_published_rows",
			Help: "Rows per table published by the last successful run.",
		}, []string{"table"}),
		customers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_customers",
			Help: "Customers in the last successful run.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_last_success_timestamp_seconds",
			Help: "Unix time the last successful run finished; alert when it is older than a day or two.",
		}),
		inProgress: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_runs_in_progress",
			Help: "Runs and backfills this daemon is executing now.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_ready",
			Help: "1 while the daemon accepts new runs, 0 while starting or shutting down.",
		}),
		psi: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_drift_psi",
			Help: "Population stability index of each feature against the previous run, in the last run that measured it.",
		}, []string{"feature"}),
		share: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_segment_share",
			Help: "Share of the customers in each RFM segment in the last successful run.",
		}, []string{"segment"}),
	}
	m.reg.MustRegister(m.runs, m.stage, m.runSeconds, m.rows, m.customers, m.lastSuccess, m.inProgress, m.ready, m.psi, m.share,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records a finished run.
func (m *metrics) observe(rec *ledger.Record) {
	m.runs.WithLabelValues(string(rec.Trigger), string(rec.Status)).Inc()
	for _, s := range rec.Stages {
		m.stage.WithLabelValues(s.Stage).Observe(s.Seconds)
	}
	if len(rec.Stages) > 0 {
		m.runSeconds.WithLabelValues(string(rec.Status)).Observe(rec.DurationSeconds)
	}
	// A run that drift failed measured it too: its PSI is what to look at.
	m.setDrift(rec)
	if rec.Status == ledger.Succeeded && rec.FinishedAt != nil {
		m.restore(rec)
	}
}

// setDrift sets the drift gauges from rec, when it measured drift.
func (m *metrics) setDrift(rec *ledger.Record) {
	if rec.Drift == nil {
		return
	}
	m.psi.Reset()
	for f, v := range rec.Drift.PSI {
		m.psi.WithLabelValues(f).Set(v)
	}
}

// restore sets the published-state gauges from rec, a succeeded run of an
// earlier process, without counting it as a run of this one.
func (m *metrics) restore(rec *ledger.Record) {
	for t, n := range rec.Rows {
		m.rows.WithLabelValues(t).Set(float64(n))
	}
	m.customers.Set(float64(rec.Customers))
	m.lastSuccess.Set(float64(rec.FinishedAt.UnixMilli()) / 1000)
	if rec.SegmentShares != nil {
		m.share.Reset()
		for s, v := range rec.SegmentShares {
			m.share.WithLabelValues(s).Set(v)
		}
	}
	m.setDrift(rec)
}
