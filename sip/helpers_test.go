package sip_test

import (
	"callgate/configs"
	"callgate/pool"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

type configsTrunkAuth = configs.TrunkAuth

type sipgoResponse = sip.Response

func poolFilter() pool.CallFilter { return pool.CallFilter{} }

func newInfo(d *sipgo.DialogClientSession, contentType, body string) *sip.Request {
	req := sip.NewRequest(sip.INFO, d.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	req.SetBody([]byte(body))
	return req
}
