package synth

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// Row types, one per table. Optional columns use parquet-go's "optional" on
// plain values: the zero value is written as null. That costs nothing here
// because no genuine value is ever zero (no timestamp at the epoch, no
// amount or income of exactly 0, no empty campaign), and it keeps rows
// pointer-free, which matters at twenty million orders.

type customerRecord struct {
	CustomerID   string   `parquet:"customer_id,dict"`
	SignupAt     int64    `parquet:"signup_at,timestamp(microsecond:utc)"`
	BirthDate    int32    `parquet:"birth_date,date"`
	Gender       string   `parquet:"gender,optional,dict"`
	AnnualIncome float64  `parquet:"annual_income,optional"`
	Education    string   `parquet:"education,dict"`
	Occupation   string   `parquet:"occupation,dict"`
	Country      string   `parquet:"country,dict"`
	Region       string   `parquet:"region,dict"`
	City         string   `parquet:"city,dict"`
	PostalCode   string   `parquet:"postal_code"`
	Device       string   `parquet:"device,dict"`
	OS           string   `parquet:"os,dict"`
	Interests    []string `parquet:"interests,list"`
	EmailOptIn   bool     `parquet:"email_opt_in"`
	UpdatedAt    int64    `parquet:"updated_at,timestamp(microsecond:utc)"`
	// Contact fields and consent (contact.go), after the columns the
	// table had before them.
	Email     string `parquet:"email,optional"`
	Phone     string `parquet:"phone,optional"`
	FirstName string `parquet:"first_name"`
	LastName  string `parquet:"last_name"`
	SMSOptIn  bool   `parquet:"sms_opt_in"`
}

type orderRecord struct {
	OrderID    string  `parquet:"order_id"`
	CustomerID string  `parquet:"customer_id,optional,dict"`
	OrderedAt  int64   `parquet:"ordered_at,optional,timestamp(microsecond:utc)"`
	Category   string  `parquet:"category,dict"`
	Channel    string  `parquet:"channel,dict"`
	Quantity   int32   `parquet:"quantity"`
	NetAmount  float64 `parquet:"net_amount,optional"`
	Currency   string  `parquet:"currency,dict"`
	IsRefund   bool    `parquet:"is_refund"`
}

type eventRecord struct {
	CustomerID string `parquet:"customer_id,dict"`
	EventAt    int64  `parquet:"event_at,timestamp(microsecond:utc)"`
	EventType  string `parquet:"event_type,dict"`
	Channel    string `parquet:"channel,dict"`
	Campaign   string `parquet:"campaign,optional,dict"`
}

// truthRecord is the generating truth of one customer. Lambda, PDropout and
// Nu are drawn for prospects too (they just never act on them).
type truthRecord struct {
	CustomerID      string  `parquet:"customer_id"`
	Archetype       string  `parquet:"archetype,dict"`
	Prospect        bool    `parquet:"prospect"`  // never buys
	Lambda          float64 `parquet:"lambda"`    // purchases per day while alive
	PDropout        float64 `parquet:"p_dropout"` // probability of leaving after each purchase
	Nu              float64 `parquet:"nu"`        // spend rate: E[amount] = P/nu
	Purchases       int32   `parquet:"purchases"` // genuine purchases in the window, before noise
	FirstPurchaseAt int64   `parquet:"first_purchase_at,optional,timestamp(microsecond:utc)"`
	DropoutAt       int64   `parquet:"dropout_at,optional,timestamp(microsecond:utc)"` // null: alive at End
}

// CSV renderings. Nulls are empty strings; the malformed order rows are
// spelt the way broken CSV exports spell them.

func fmtTime(us int64) string { return time.UnixMicro(us).UTC().Format(time.RFC3339) }

func fmtDate(days int32) string {
	return time.Unix(int64(days)*86400, 0).UTC().Format(time.DateOnly)
}

func fmtFloat(v float64, prec int) string {
	if v == 0 {
		return "" // null (see the note on the row types)
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

var (
	customerHeader = []string{"customer_id", "signup_at", "birth_date", "gender", "annual_income", "education", "occupation", "country", "region", "city", "postal_code", "device", "os", "interests", "email_opt_in", "updated_at", "email", "phone", "first_name", "last_name", "sms_opt_in"}
	orderHeader    = []string{"order_id", "customer_id", "ordered_at", "category", "channel", "quantity", "net_amount", "currency", "is_refund"}
	eventHeader    = []string{"customer_id", "event_at", "event_type", "channel", "campaign"}
	truthHeader    = []string{"customer_id", "archetype", "prospect", "lambda", "p_dropout", "nu", "purchases", "first_purchase_at", "dropout_at"}
)

func (r *customerRecord) appendCSV(dst []string) []string {
	return append(dst, r.CustomerID, fmtTime(r.SignupAt), fmtDate(r.BirthDate), r.Gender,
		fmtFloat(r.AnnualIncome, 2), r.Education, r.Occupation, r.Country, r.Region, r.City,
		r.PostalCode, r.Device, r.OS, strings.Join(r.Interests, "|"),
		strconv.FormatBool(r.EmailOptIn), fmtTime(r.UpdatedAt), r.Email, r.Phone, r.FirstName, r.LastName,
		strconv.FormatBool(r.SMSOptIn))
}

func (r *orderRecord) appendCSV(dst []string) []string {
	at := "not-a-date"
	if r.OrderedAt != 0 {
		at = fmtTime(r.OrderedAt)
	}
	amount := "abc"
	if !math.IsNaN(r.NetAmount) {
		amount = fmtFloat(r.NetAmount, 2)
	}
	return append(dst, r.OrderID, r.CustomerID, at, r.Category, r.Channel,
		strconv.Itoa(int(r.Quantity)), amount, r.Currency, strconv.FormatBool(r.IsRefund))
}

func (r *eventRecord) appendCSV(dst []string) []string {
	return append(dst, r.CustomerID, fmtTime(r.EventAt), r.EventType, r.Channel, r.Campaign)
}

func (r *truthRecord) appendCSV(dst []string) []string {
	opt := func(us int64) string {
		if us == 0 {
			return ""
		}
		return fmtTime(us)
	}
	return append(dst, r.CustomerID, r.Archetype, strconv.FormatBool(r.Prospect),
		strconv.FormatFloat(r.Lambda, 'g', -1, 64), strconv.FormatFloat(r.PDropout, 'g', -1, 64),
		strconv.FormatFloat(r.Nu, 'g', -1, 64), strconv.Itoa(int(r.Purchases)),
		opt(r.FirstPurchaseAt), opt(r.DropoutAt))
}

// sink writes one table from a stream of chunks.
type sink interface {
	writeChunk(*chunk) error
	close() error    // finish the last part and wait for its upload
	abort(err error) // fail the part being uploaded, so it is never committed
	files() []string // keys written so far
}

func newTables(ctx context.Context, b objstore.Bucket, cfg Config) []sink {
	// One codec for the run, so its pool of encoders (and their history
	// buffers) is shared by every file.
	codec := &zstd.Codec{Level: zstd.SpeedDefault}
	var orderBase int64 // order ids are numbered in write order, from 1
	orders := newTable(ctx, b, cfg, codec, "orders/part-", orderHeader, func(c *chunk) []orderRecord {
		for i := range c.orders {
			c.orders[i].OrderID = orderID(orderBase + c.orderSeq[i] + 1)
		}
		orderBase += c.orderIDs
		return c.orders
	}, (*orderRecord).appendCSV)
	truth := newTable(ctx, b, cfg, codec, "truth/customers", truthHeader, func(c *chunk) []truthRecord { return c.truth }, (*truthRecord).appendCSV)
	truth.single = true
	sinks := []sink{
		newTable(ctx, b, cfg, codec, "customers/part-", customerHeader, func(c *chunk) []customerRecord { return c.customers }, (*customerRecord).appendCSV),
		orders,
		newTable(ctx, b, cfg, codec, "events/part-", eventHeader, func(c *chunk) []eventRecord { return c.events }, (*eventRecord).appendCSV),
		truth,
	}
	if cfg.Campaign != nil {
		// CSV whatever the format: a small file for tests and people.
		csvCfg := cfg
		csvCfg.Format = "csv"
		camp := newTable(ctx, b, csvCfg, codec, "truth/campaign", campaignHeader, func(c *chunk) []campaignRecord { return c.campaign }, (*campaignRecord).appendCSV)
		camp.single = true
		sinks = append(sinks, camp)
	}
	return sinks
}

func orderID(n int64) string {
	var buf [11]byte
	buf[0] = 'O'
	for i := 10; i >= 1; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[:])
}

func customerID(idx int) string {
	var buf [9]byte
	buf[0] = 'C'
	n := idx + 1
	for i := 8; i >= 1; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[:])
}

// table splits one table into part files of at most RowsPerFile rows and
// streams each part to the bucket through a pipe.
type table[T any] struct {
	ctx    context.Context
	b      objstore.Bucket
	cfg    Config
	codec  *zstd.Codec
	prefix string // key up to the part number, or the whole key without extension if single
	single bool   // one file whatever its size (the truth table)
	header []string
	rows   func(*chunk) []T
	csv    func(*T, []string) []string

	enc    encoder[T]
	up     *upload
	inPart int // rows in the current part
	keys   []string
}

func newTable[T any](ctx context.Context, b objstore.Bucket, cfg Config, codec *zstd.Codec, prefix string, header []string, rows func(*chunk) []T, csv func(*T, []string) []string) *table[T] {
	return &table[T]{ctx: ctx, b: b, cfg: cfg, codec: codec, prefix: prefix, header: header, rows: rows, csv: csv}
}

func (t *table[T]) files() []string { return t.keys }

func (t *table[T]) writeChunk(c *chunk) error {
	rows := t.rows(c)
	for len(rows) > 0 {
		if t.enc == nil {
			if err := t.open(); err != nil {
				return err
			}
		}
		n := len(rows)
		if !t.single {
			n = min(n, t.cfg.RowsPerFile-t.inPart)
		}
		if err := t.enc.write(rows[:n]); err != nil {
			return fmt.Errorf("write %s: %w", t.keys[len(t.keys)-1], err)
		}
		t.inPart += n
		rows = rows[n:]
		if !t.single && t.inPart == t.cfg.RowsPerFile {
			if err := t.finish(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *table[T]) open() error {
	key := t.prefix
	if !t.single {
		key += fmt.Sprintf("%05d", len(t.keys))
	}
	key += "." + t.cfg.Format
	t.up = startUpload(t.ctx, t.b, key)
	t.keys = append(t.keys, key)
	t.inPart = 0
	if t.cfg.Format == "csv" {
		e := &csvEncoder[T]{bw: bufio.NewWriterSize(t.up.pw, 256<<10), format: t.csv}
		e.cw = csv.NewWriter(e.bw)
		if err := e.cw.Write(t.header); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		t.enc = e
		return nil
	}
	t.enc = &parquetEncoder[T]{w: parquet.NewGenericWriter[T](t.up.pw,
		parquet.Compression(t.codec),
		parquet.MaxRowsPerRowGroup(int64(t.cfg.RowGroupRows)),
		// The default embeds the build's VCS revision: fixed here so the
		// bytes depend on Config alone.
		parquet.CreatedBy("strata-synth", "1", "0"),
	)}
	return nil
}

// finish completes the current part and waits until it is stored.
func (t *table[T]) finish() error {
	key := t.keys[len(t.keys)-1]
	if err := t.enc.close(); err != nil {
		t.up.pw.CloseWithError(err)
		<-t.up.done
		t.enc, t.up = nil, nil
		return fmt.Errorf("finish %s: %w", key, err)
	}
	t.up.pw.Close()
	err := <-t.up.done
	t.enc, t.up = nil, nil
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

func (t *table[T]) close() error {
	if t.enc == nil && len(t.keys) == 0 {
		// An empty table still gets its first part, with the schema, so
		// readers need not special-case a missing directory.
		if err := t.open(); err != nil {
			return err
		}
	}
	if t.enc == nil {
		return nil
	}
	return t.finish()
}

func (t *table[T]) abort(err error) {
	if t.up != nil {
		t.up.pw.CloseWithError(err)
		<-t.up.done
		t.enc, t.up = nil, nil
	}
}

// upload runs Bucket.Upload on the read end of a pipe.
type upload struct {
	pw   *io.PipeWriter
	done chan error
}

func startUpload(ctx context.Context, b objstore.Bucket, key string) *upload {
	pr, pw := io.Pipe()
	u := &upload{pw: pw, done: make(chan error, 1)}
	go func() {
		err := b.Upload(ctx, key, pr)
		// Unblock the writer if Upload returned without reading to EOF.
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(fmt.Errorf("upload of %s returned before the end of its input", key))
		}
		u.done <- err
	}()
	return u
}

type encoder[T any] interface {
	write([]T) error
	close() error
}

type parquetEncoder[T any] struct{ w *parquet.GenericWriter[T] }

func (e *parquetEncoder[T]) write(rows []T) error { _, err := e.w.Write(rows); return err }
func (e *parquetEncoder[T]) close() error         { return e.w.Close() }

type csvEncoder[T any] struct {
	bw     *bufio.Writer
	cw     *csv.Writer
	format func(*T, []string) []string
	rec    []string
}

func (e *csvEncoder[T]) write(rows []T) error {
	for i := range rows {
		e.rec = e.format(&rows[i], e.rec[:0])
		if err := e.cw.Write(e.rec); err != nil {
			return err
		}
	}
	return nil
}

func (e *csvEncoder[T]) close() error {
	e.cw.Flush()
	if err := e.cw.Error(); err != nil {
		return err
	}
	return e.bw.Flush()
}
