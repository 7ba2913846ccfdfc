package web

import (
	"net/http"
	"strconv"

	"callgate/routing"
)

// Supplier control on the business API (internal listener, apps with tenants ["*"]):
//
//	GET /v1/suppliers/{name}   the supplier's trunks
//	PUT /v1/suppliers/{name}   drain or disable (or bring back) all its trunks at once
//
// A supplier is the trunks whose config names it (trunks[].supplier); each keeps its
// own weight.

// SupplierPatch is the body of PUT /v1/suppliers/{name}; fields left out keep each
// trunk's value.
type SupplierPatch struct {
	Drained  *bool `json:"drained"`
	Disabled *bool `json:"disabled"`
}

// SupplierView answers the supplier endpoints.
type SupplierView struct {
	Name   string      `json:"name"`
	Trunks []TrunkView `json:"trunks"`
}

func (h *Internal) supplier(c *apiCall) error {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodPut {
		return methodNotAllowed(c.r.Method, "GET, PUT")
	}
	if err := trunksAllowed(c); err != nil {
		return err
	}
	name := c.r.PathValue("name")
	view := h.supplierView(name)
	if len(view.Trunks) == 0 {
		return &requestError{status: http.StatusNotFound, code: "not_found", msg: "no trunk of supplier " + strconv.Quote(name)}
	}
	if c.r.Method == http.MethodPut {
		var p SupplierPatch
		if err := decodeJSON(c.body, &p); err != nil {
			return err
		}
		for _, t := range view.Trunks {
			ctl := routing.TrunkControl{Weight: t.Weight, Drained: t.Drained, Disabled: t.Disabled}
			if p.Drained != nil {
				ctl.Drained = *p.Drained
			}
			if p.Disabled != nil {
				ctl.Disabled = *p.Disabled
			}
			h.trunks.SetTrunkControl(t.Name, ctl)
		}
		view = h.supplierView(name)
	}
	writeJSON(c.w, http.StatusOK, view)
	return nil
}

// supplierView lists the trunks of supplier name.
func (h *Internal) supplierView(name string) SupplierView {
	v := SupplierView{Name: name, Trunks: []TrunkView{}}
	for _, t := range h.trunks.TrunkViews() {
		if t.Supplier == name && name != "" {
			v.Trunks = append(v.Trunks, t)
		}
	}
	return v
}
