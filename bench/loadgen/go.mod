module coapgw/bench/loadgen

go 1.22
