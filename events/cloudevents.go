package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SpecVersion is the CloudEvents version of the JSON form.
const SpecVersion = "1.0"

const contentTypeJSON = "application/json"

// reservedAttribute reports whether name is a CloudEvents context attribute
// or one of the extensions that Event has a field for.
func reservedAttribute(name string) bool {
	switch name {
	case "specversion", "id", "source", "type", "subject", "time",
		"datacontenttype", "dataschema", "data", "data_base64",
		"workspace", "org":
		return true
	}
	return false
}

// MarshalJSON encodes e in CloudEvents 1.0 JSON structured mode. Workspace,
// Org and Extensions become top-level extension attributes; empty optional
// attributes are left out. Extensions are written in sorted order, so the
// same event always encodes to the same bytes.
func (e Event) MarshalJSON() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(192 + len(e.Data))
	b.WriteString(`{"specversion":"1.0"`)
	writeAttr(&b, "id", e.ID)
	writeAttr(&b, "source", e.Source)
	writeAttr(&b, "type", string(e.Type))
	if e.Subject != "" {
		writeAttr(&b, "subject", e.Subject)
	}
	if !e.Time.IsZero() {
		writeAttr(&b, "time", e.Time.Format(time.RFC3339Nano))
	}
	if e.Workspace != "" {
		writeAttr(&b, "workspace", e.Workspace)
	}
	if e.Org != "" {
		writeAttr(&b, "org", e.Org)
	}
	if len(e.Extensions) > 0 {
		names := make([]string, 0, len(e.Extensions))
		for name := range e.Extensions {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			writeAttr(&b, name, e.Extensions[name])
		}
	}
	if len(e.Data) > 0 {
		writeAttr(&b, "datacontenttype", contentTypeJSON)
		b.WriteString(`,"data":`)
		b.Write(e.Data)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeAttr(b *bytes.Buffer, name, value string) {
	b.WriteByte(',')
	b.WriteByte('"')
	b.WriteString(name) // names are validated to [a-z0-9_]
	b.WriteString(`":`)
	v, _ := json.Marshal(value) // a string always marshals
	b.Write(v)
}

// UnmarshalJSON decodes a CloudEvents 1.0 structured-mode JSON event. It
// rejects, with an error wrapping ErrInvalid, a document that is not an
// object, a missing or wrong specversion, missing id, type or source, a
// time that is not RFC 3339, a payload that is not a JSON object, binary
// payloads (data_base64), non-JSON content types and extension attributes
// whose values are not strings, numbers or booleans.
func (e *Event) UnmarshalJSON(src []byte) error {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(src, &attrs); err != nil {
		return fmt.Errorf("%w: not a JSON object: %v", ErrInvalid, err)
	}
	if attrs == nil {
		return fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	var out Event
	str := func(name string, required bool) (string, error) {
		raw, ok := attrs[name]
		if !ok || string(raw) == "null" {
			if required {
				return "", fmt.Errorf("%w: missing %s", ErrInvalid, name)
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: attribute %s must be a string", ErrInvalid, name)
		}
		if required && s == "" {
			return "", fmt.Errorf("%w: missing %s", ErrInvalid, name)
		}
		return s, nil
	}
	sv, err := str("specversion", true)
	if err != nil {
		return err
	}
	if sv != SpecVersion {
		return fmt.Errorf("%w: specversion %q is not %q", ErrInvalid, sv, SpecVersion)
	}
	if out.ID, err = str("id", true); err != nil {
		return err
	}
	if out.Source, err = str("source", true); err != nil {
		return err
	}
	typ, err := str("type", true)
	if err != nil {
		return err
	}
	out.Type = Type(typ)
	if out.Subject, err = str("subject", false); err != nil {
		return err
	}
	if out.Workspace, err = str("workspace", false); err != nil {
		return err
	}
	if out.Org, err = str("org", false); err != nil {
		return err
	}
	ts, err := str("time", false)
	if err != nil {
		return err
	}
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("%w: time %q is not RFC 3339", ErrInvalid, ts)
		}
		out.Time = t
	}
	ct, err := str("datacontenttype", false)
	if err != nil {
		return err
	}
	if ct != "" && !isJSONContentType(ct) {
		return fmt.Errorf("%w: datacontenttype %q: only JSON payloads are supported", ErrInvalid, ct)
	}
	if _, ok := attrs["data_base64"]; ok {
		return fmt.Errorf("%w: data_base64: binary payloads are not supported", ErrInvalid)
	}
	if raw, ok := attrs["data"]; ok && string(raw) != "null" {
		if err := checkObject(raw); err != nil {
			return err
		}
		out.Data = raw
	}
	for name, raw := range attrs {
		if reservedAttribute(name) {
			continue
		}
		if err := checkExtensionName(name); err != nil {
			return err
		}
		v, err := extensionValue(raw)
		if err != nil {
			return fmt.Errorf("%w: extension %s: %v", ErrInvalid, name, err)
		}
		if out.Extensions == nil {
			out.Extensions = make(map[string]string)
		}
		out.Extensions[name] = v
	}
	*e = out
	return nil
}

// extensionValue turns a CloudEvents extension value into its canonical
// string form. CloudEvents allows booleans, integers and strings; this
// package keeps extensions as strings, so a round trip writes them back as
// JSON strings.
func extensionValue(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, float64:
		return string(raw), nil
	default:
		return "", fmt.Errorf("value must be a string, number or boolean")
	}
}

func isJSONContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == contentTypeJSON || mt == "text/json" || strings.HasSuffix(mt, "+json")
}
