//go:build !wasip1

package gwtest

import (
	"bytes"
	"testing"

	"coapgw.example/wasm-src/gwabi"
)

func TestRegisterMapReadsAndWritesInWireOrder(t *testing.T) {
	h := New(t)
	chip := NewChip(0x48).SetWord(0x00, 0x1580).SetWord(0x01, 0x60A0)
	h.Attach(1, chip)
	dev := gwabi.Device{Bus: 1, Addr: 0x48}

	var buf [2]byte
	if st := dev.ReadReg(0x00, buf[:]); st != gwabi.OK || buf != [2]byte{0x15, 0x80} {
		t.Fatalf("ReadReg: %s %x", st.Name(), buf)
	}
	if st := dev.WriteReg(0x01, []byte{0x61, 0xA0}); st != gwabi.OK || chip.Word(0x01) != 0x61A0 {
		t.Fatalf("WriteReg: %s %04x", st.Name(), chip.Word(0x01))
	}
	// A pointer write, then a plain read from the pointer (the TMP102's way, SBOS397 7.5.3).
	if st := gwabi.I2CWrite(1, 0x48, []byte{0x00}); st != gwabi.OK || chip.Pointer() != 0 {
		t.Fatalf("pointer write: %s %d", st.Name(), chip.Pointer())
	}
	if st := gwabi.I2CRead(1, 0x48, buf[:]); st != gwabi.OK || buf != [2]byte{0x15, 0x80} {
		t.Fatalf("I2CRead: %s %x", st.Name(), buf)
	}
	// Four bytes from register 0 run on into register 1 (auto-increment by register).
	var four [4]byte
	if st := gwabi.I2CReadReg(1, 0x48, 0x00, four[:]); st != gwabi.OK || four != [4]byte{0x15, 0x80, 0x61, 0xA0} {
		t.Fatalf("auto-increment: %s %x", st.Name(), four)
	}
	want := []string{"i2c_read_reg", "i2c_write_reg", "i2c_write", "i2c_read", "i2c_read_reg"}
	if len(h.Transfers) != len(want) {
		t.Fatalf("transfers %+v", h.Transfers)
	}
	for i, op := range want {
		if h.Transfers[i].Op != op || h.Transfers[i].Result != 0 {
			t.Errorf("transfer %d: %+v, want %s", i, h.Transfers[i], op)
		}
	}
	if !bytes.Equal(h.Transfers[1].Data, []byte{0x61, 0xA0}) || h.Transfers[1].Reg != 0x01 {
		t.Errorf("write recorded as %+v", h.Transfers[1])
	}
}

func TestByteRegistersAutoIncrementOnWrite(t *testing.T) {
	chip := NewChip(0x76)
	if st := chip.WriteReg(0xF4, []byte{0x27, 0xA0}); st != gwabi.OK {
		t.Fatal(st.Name())
	}
	if !bytes.Equal(chip.Reg(0xF4), []byte{0x27}) || !bytes.Equal(chip.Reg(0xF5), []byte{0xA0}) {
		t.Errorf("F4 %x F5 %x", chip.Reg(0xF4), chip.Reg(0xF5))
	}
	if !bytes.Equal(chip.Reg(0x10), []byte{0}) {
		t.Errorf("an unset register reads %x", chip.Reg(0x10))
	}
}

func TestHostRefusesAsTheGatewayDoes(t *testing.T) {
	h := New(t)
	h.Attach(1, NewChip(0x48)).Grant(1, 0x49)
	var buf [2]byte
	cases := []struct {
		name string
		st   gwabi.Status
		want gwabi.Status
	}{
		{"not granted", gwabi.I2CReadReg(1, 0x4A, 0, buf[:]), gwabi.Denied},
		{"other bus", gwabi.I2CReadReg(0, 0x48, 0, buf[:]), gwabi.Denied},
		{"granted, no chip", gwabi.I2CReadReg(1, 0x49, 0, buf[:]), gwabi.I2CNack},
		{"33 bytes", gwabi.FromImport(h.I2CRead(1, 0x48, make([]byte, 33))), gwabi.BadArgument},
	}
	for _, c := range cases {
		if c.st != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.st.Name(), c.want.Name())
		}
	}
	if h.Transfers[0].Data != nil {
		t.Errorf("a denied transfer carried data: %+v", h.Transfers[0])
	}
}

func TestFailInjectsStatusesInOrder(t *testing.T) {
	h := New(t)
	chip := NewChip(0x48).SetWord(0, 0x1580).Fail(gwabi.I2CNack, gwabi.OK, gwabi.I2CTimeout)
	h.Attach(1, chip)
	dev := gwabi.Device{Bus: 1, Addr: 0x48}
	var buf [2]byte
	got := []gwabi.Status{dev.ReadReg(0, buf[:]), dev.ReadReg(0, buf[:]), dev.ReadReg(0, buf[:]), dev.ReadReg(0, buf[:])}
	want := []gwabi.Status{gwabi.I2CNack, gwabi.OK, gwabi.I2CTimeout, gwabi.OK}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("transfer %d: %s, want %s", i, got[i].Name(), want[i].Name())
		}
	}
}

func TestHooksModelBehaviour(t *testing.T) {
	h := New(t)
	conversions := 0
	chip := NewChip(0x44)
	// A command chip: writing 0x24 0x00 starts a measurement whose result the next read returns.
	chip.OnWrite = func(c *Chip, reg uint8, data []byte) {
		if reg == 0x24 {
			conversions++
			c.SetReg(0x24, 0x66, 0x66, 0x93)
		}
	}
	h.Attach(1, chip)
	if st := gwabi.I2CWrite(1, 0x44, []byte{0x24, 0x00}); st != gwabi.OK {
		t.Fatal(st.Name())
	}
	var buf [3]byte
	if st := gwabi.I2CRead(1, 0x44, buf[:]); st != gwabi.OK || buf != [3]byte{0x66, 0x66, 0x93} || conversions != 1 {
		t.Errorf("%s %x %d", st.Name(), buf, conversions)
	}
}

func TestCallPassesInputAndReturnsOutput(t *testing.T) {
	h := New(t)
	echo := func(n int32) int32 {
		in, err := gwabi.ReadInput(n)
		if err != nil {
			return gwabi.WriteError(gwabi.BadRequest, 0, err.Error())
		}
		gwabi.Log(gwabi.LogInfo, "echo")
		gwabi.WriteOutput(in)
		return int32(gwabi.NotReady)
	}
	in := InitInput(1, 0x48, []byte{0xa1, 0x61, 0x78, 0x01})
	r := h.Call(echo, in)
	if r.Status != gwabi.NotReady || !bytes.Equal(r.Output, in) {
		t.Fatalf("%s", r)
	}
	if bus, ok := r.Int("bus"); !ok || bus != 1 {
		t.Errorf("bus %d %v", bus, ok)
	}
	if _, ok := r.Text("bus"); ok {
		t.Errorf("an integer read as text")
	}
	if len(h.Logs) != 1 || h.Logs[0].Level != gwabi.LogInfo || h.Logs[0].Text != "echo" {
		t.Errorf("logs %+v", h.Logs)
	}
}

func TestNewRestoresTheHost(t *testing.T) {
	before := gwabi.Native
	t.Run("inner", func(t *testing.T) {
		if New(t) == gwabi.Native {
			return
		}
		t.Error("New did not install the host")
	})
	if gwabi.Native != before {
		t.Error("the host stayed installed after the test")
	}
}
