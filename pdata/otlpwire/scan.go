package otlpwire

// The walkers below follow the message tree from the request down to the
// item records. Each takes b sliced to the end of its message and the
// position of its first field. Known fields must have the wire type pdata
// expects (pdata rejects the whole request otherwise); unknown fields are
// skipped once their framing is checked, as protobuf forward compatibility
// requires.

// topField decodes the top-level field at b[pos:]. resource reports whether
// it is a resource entry; f spans the field either way, so callers can step
// over unknown fields too.
func topField(k Kind, b []byte, pos int) (f Entry, resource bool, err error) {
	s := &schemas[k]
	v, p := tag(b, pos)
	if p < 0 {
		return Entry{}, false, wireErr(b, pos, p, s.request)
	}
	if num, wt := v>>3, uint8(v&7); num != fieldRequestResources {
		end, err := skip(b, pos, p, wt, s.request)
		return Entry{Start: pos, End: end}, false, err
	}
	start, end, err := payload(b, pos, p, v, s.request, s.resource)
	if err != nil {
		return Entry{}, false, err
	}
	items, err := scanResource(k, b[:end], start)
	if err != nil {
		if de, ok := err.(*depthError); ok {
			err = tooDeepErr(k, b, de)
		}
		return Entry{}, false, err
	}
	return Entry{Start: pos, End: end, Items: items}, true, nil
}

// scanResource walks a Resource{Logs,Metrics,Spans} message and returns its
// item count.
func scanResource(k Kind, b []byte, pos int) (int, error) {
	s := &schemas[k]
	var items, oldItems int
	hasScopes := false
	for pos < len(b) {
		tagPos := pos
		v, p := tag(b, pos)
		if p < 0 {
			return 0, wireErr(b, tagPos, p, s.resource)
		}
		var err error
		switch num := v >> 3; num {
		case fieldResourceResource:
			pos, err = opaque(b, tagPos, p, v, s.resource, "resource", tResource)
		case fieldResourceScopes, fieldResourceOldScopes:
			var start, n int
			if start, pos, err = payload(b, tagPos, p, v, s.resource, "scope entry"); err != nil {
				return 0, err
			}
			if n, err = scanScope(k, b[:pos], start); err != nil {
				return 0, err
			}
			if num == fieldResourceScopes {
				items += n
				hasScopes = true
			} else {
				oldItems += n
			}
		case fieldResourceSchemaURL:
			_, pos, err = payload(b, tagPos, p, v, s.resource, "schema_url")
		default:
			pos, err = skip(b, tagPos, p, uint8(v&7), s.resource)
		}
		if err != nil {
			return 0, err
		}
	}
	return resourceItems(items, oldItems, hasScopes), nil
}

// resourceItems is the item count of a resource entry whose scope entries
// hold items, its deprecated ones oldItems. Receivers built on pdata
// (plogotlp, pmetricotlp, ptraceotlp) read the pre-1.0
// instrumentation_library_* entries only when a resource has no scope
// entries, and drop them otherwise; count what they will see.
func resourceItems(items, oldItems int, hasScopes bool) int {
	if hasScopes {
		return items
	}
	return oldItems
}

// checkItem checks the item (log record, metric or span) of kind k in
// b[start:] and returns what it counts: one, or a metric's data points.
func checkItem(k Kind, b []byte, start int) (int, error) {
	if k == Metrics {
		return scanMetric(b, start)
	}
	if err := checkMessage(b, start, schemas[k].itemType); err != nil {
		return 0, err
	}
	return 1, nil
}

// itemTag is the tag of a Scope*.log_records/metrics/spans entry.
const itemTag = fieldScopeItems<<3 | wireBytes

// scanScope walks a Scope{Logs,Metrics,Spans} message and returns its item
// count.
func scanScope(k Kind, b []byte, pos int) (int, error) {
	s := &schemas[k]
	items := 0
	for pos < len(b) {
		tagPos := pos
		if k != Metrics && b[pos] == itemTag && pos+2 < len(b) {
			// The per-item path, inlined by hand for records of 128 B to
			// 16 KiB (a two-byte length); others take the general path.
			if c0, c1 := b[pos+1], b[pos+2]; c0 >= 0x80 && c1 < 0x80 {
				start := pos + 3
				if n := int(c0&0x7f) | int(c1)<<7; n <= len(b)-start {
					if err := checkMessage(b[:start+n], start, s.itemType); err != nil {
						return 0, err
					}
					items++
					pos = start + n
					continue
				}
			}
		}
		v, p := tag(b, pos)
		if p < 0 {
			return 0, wireErr(b, tagPos, p, s.scope)
		}
		var err error
		switch v >> 3 {
		case fieldScopeItems:
			if v != itemTag {
				return 0, wrongType(tagPos, s.scope, v>>3, s.item, uint8(v&7), wireBytes)
			}
			start, end := length(b, p)
			if end < 0 {
				return 0, wireErr(b, p, end, s.scope)
			}
			n, err := checkItem(k, b[:end], start)
			if err != nil {
				return 0, err
			}
			items += n
			pos = end
		case fieldScopeScope:
			pos, err = opaque(b, tagPos, p, v, s.scope, "scope", tScope)
		case fieldScopeSchemaURL:
			_, pos, err = payload(b, tagPos, p, v, s.scope, "schema_url")
		default:
			pos, err = skip(b, tagPos, p, uint8(v&7), s.scope)
		}
		if err != nil {
			return 0, err
		}
	}
	return items, nil
}

// scanMetric walks a Metric message and returns its data point count.
func scanMetric(b []byte, pos int) (int, error) {
	const msg = "Metric"
	points := 0
	for pos < len(b) {
		tagPos := pos
		v, p := tag(b, pos)
		if p < 0 {
			return 0, wireErr(b, tagPos, p, msg)
		}
		var err error
		switch num := v >> 3; num {
		case fieldMetricName, fieldMetricDescription, fieldMetricUnit:
			_, pos, err = payload(b, tagPos, p, v, msg, "string")
		case fieldMetricGauge, fieldMetricSum, fieldMetricHistogram, fieldMetricExpHistogram, fieldMetricSummary:
			d := &dataKinds[num]
			var start int
			if start, pos, err = payload(b, tagPos, p, v, msg, d.container); err != nil {
				return 0, err
			}
			// data is a oneof: pdata keeps only the last occurrence, even of
			// the same field (it does not merge), so only its points count.
			points, err = scanData(b[:pos], start, d)
		case fieldMetricMetadata:
			pos, err = opaque(b, tagPos, p, v, msg, "metadata", tKeyValue)
		default:
			pos, err = skip(b, tagPos, p, uint8(v&7), msg)
		}
		if err != nil {
			return 0, err
		}
	}
	return points, nil
}

// pointTag is the tag of a data_points entry.
const pointTag = fieldDataPoints<<3 | wireBytes

// scanData walks a Gauge, Sum, Histogram, ExponentialHistogram or Summary
// message and returns its data point count.
func scanData(b []byte, pos int, d *dataKind) (int, error) {
	points := 0
	for pos < len(b) {
		tagPos := pos
		v, p := tag(b, pos)
		if p < 0 {
			return 0, wireErr(b, tagPos, p, d.container)
		}
		var err error
		switch num, wt := v>>3, uint8(v&7); {
		case num == fieldDataPoints:
			// The per-point path, like scanScope's per-item path.
			if v != pointTag {
				return 0, wrongType(tagPos, d.container, num, d.point, wt, wireBytes)
			}
			start, end := length(b, p)
			if end < 0 {
				return 0, wireErr(b, p, end, d.container)
			}
			if err := checkMessage(b[:end], start, d.pointType); err != nil {
				return 0, err
			}
			points++
			pos = end
		case num == fieldDataTemporality && d.temporality,
			num == fieldSumMonotonic && d.monotonic:
			if wt != wireVarint {
				return 0, wrongType(tagPos, d.container, num, "enum or bool", wt, wireVarint)
			}
			pos, err = skip(b, tagPos, p, wt, d.container)
		default:
			pos, err = skip(b, tagPos, p, wt, d.container)
		}
		if err != nil {
			return 0, err
		}
	}
	return points, nil
}

// skip steps over the value of a field whose tag starts at tagPos and ends
// at pos, and returns where the field ends.
func skip(b []byte, tagPos, pos int, wt uint8, msg string) (int, error) {
	next := skipValue(b, pos, wt)
	if next < 0 {
		return 0, fieldErr(b, tagPos, pos, wt, next, msg)
	}
	return next, nil
}

// payload checks that the known field with tag v (starting at tagPos and
// ending at pos) is length-delimited, and returns the bounds of its payload.
func payload(b []byte, tagPos, pos int, v uint64, msg, field string) (start, end int, err error) {
	if wt := uint8(v & 7); wt != wireBytes {
		return 0, 0, wrongType(tagPos, msg, v>>3, field, wt, wireBytes)
	}
	if start, end = length(b, pos); end < 0 {
		return 0, 0, wireErr(b, pos, end, msg)
	}
	return start, end, nil
}

// opaque checks a known message-typed field whose contents Scan does not
// interpret (a Resource, an InstrumentationScope, a KeyValue): it must be
// length-delimited, its own fields well framed and its values within
// MaxValueDepth. It returns where the field ends.
func opaque(b []byte, tagPos, pos int, v uint64, msg, field string, t msgType) (int, error) {
	start, end, err := payload(b, tagPos, pos, v, msg, field)
	if err != nil {
		return 0, err
	}
	return end, checkMessage(b[:end], start, t)
}
