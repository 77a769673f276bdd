// The compiled simulation of the tickwire threshold core: Verilator's model of the
// exported Verilog, driven over stdin/stdout by tickwire.fpga.vsim (binary, little-endian).
//
// Every cycle: inputs are set, the model settles (eval), the outputs of that cycle are
// sampled, then one rising edge. This is exactly what the Amaranth testbench does
// (tickwire.fpga.sim), so both simulations see the same cycles.
//
// Commands (one byte, then arguments):
//   'W' u16 addr, u32 value          one bus write                -> nothing
//   'R' u16 addr                     one bus read                 -> u32 value
//   'S' u32 gap, u32 n, n x (u32 len, bytes)
//                                    stream n frames, gap idle cycles after each, then run
//                                    until traffic falls           -> the record below
//   'C'                              the cycle counter             -> u64
//   'Q'                              quit
// Stream record: u64 cycle of each frame's first beat (n of them); u32 pushes, then per
// push u32 frame tag and u64 cycle; u32 orders, then per order u64 first-beat cycle,
// u32 length, bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "Vtickwire_threshold.h"
#include "verilated.h"

static Vtickwire_threshold* top;
static uint64_t cycle_count = 0;

static void read_exact(void* buf, size_t n) {
    if (n && fread(buf, 1, n, stdin) != n) exit(0);
}
template <typename T> static T get() {
    T v;
    read_exact(&v, sizeof v);
    return v;
}
template <typename T> static void put(T v) { fwrite(&v, sizeof v, 1, stdout); }

static void tick() {
    top->clk = 1;
    top->eval();
    top->clk = 0;
    top->eval();
    cycle_count++;
}

struct Stream {
    std::vector<uint32_t> push_tags;
    std::vector<uint64_t> push_cycles;
    std::vector<uint64_t> tx_first;
    std::vector<std::vector<uint8_t>> tx_frames;
    std::vector<uint8_t> cur;
    uint64_t cur_first = 0;

    void sample() {
        top->eval();
        if (top->dbg_push) {
            push_tags.push_back(top->dbg_push_frame);
            push_cycles.push_back(cycle_count);
        }
        if (top->tx_valid) {
            if (cur.empty()) cur_first = cycle_count;
            uint64_t data = top->tx_data;
            int n = __builtin_popcount(top->tx_be);
            for (int i = 0; i < n; i++) cur.push_back((data >> (8 * i)) & 0xFF);
            if (top->tx_last) {
                tx_frames.push_back(cur);
                tx_first.push_back(cur_first);
                cur.clear();
            }
        }
    }
};

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    top = new Vtickwire_threshold;
    top->clk = 0;
    top->rst = 1;
    top->eval();
    tick();
    top->rst = 0;
    top->eval();
    for (;;) {
        int cmd = fgetc(stdin);
        if (cmd == EOF || cmd == 'Q') break;
        if (cmd == 'W') {
            top->bus_addr = get<uint16_t>();
            top->bus_w_data = get<uint32_t>();
            top->bus_w_en = 1;
            top->eval();
            tick();
            top->bus_w_en = 0;
        } else if (cmd == 'R') {
            top->bus_addr = get<uint16_t>();
            top->bus_r_en = 1;
            top->eval();
            tick();
            top->bus_r_en = 0;
            top->eval();
            put<uint32_t>(top->bus_r_data);
        } else if (cmd == 'C') {
            put<uint64_t>(cycle_count);
        } else if (cmd == 'S') {
            uint32_t gap = get<uint32_t>();
            uint32_t n = get<uint32_t>();
            Stream s;
            std::vector<uint64_t> first_beat(n);
            std::vector<uint8_t> frame;
            for (uint32_t f = 0; f < n; f++) {
                uint32_t len = get<uint32_t>();
                frame.resize(len);
                read_exact(frame.data(), len);
                first_beat[f] = cycle_count;
                uint32_t beats = len ? (len + 7) / 8 : 1;
                for (uint32_t b = 0; b < beats; b++) {
                    uint64_t data = 0;
                    uint32_t k = 0;
                    for (; k < 8 && 8 * b + k < len; k++)
                        data |= uint64_t(frame[8 * b + k]) << (8 * k);
                    top->rx_valid = 1;
                    top->rx_data = data;
                    top->rx_be = (1u << k) - 1;
                    top->rx_last = b + 1 == beats;
                    s.sample();
                    tick();
                }
                top->rx_valid = 0;
                for (uint32_t g = 0; g < gap; g++) {
                    s.sample();
                    tick();
                }
            }
            top->rx_valid = 0;
            top->rx_last = 0;
            top->eval();
            while (top->traffic) {
                s.sample();
                tick();
                top->eval();
            }
            for (uint64_t c : first_beat) put<uint64_t>(c);
            put<uint32_t>(s.push_tags.size());
            for (size_t i = 0; i < s.push_tags.size(); i++) {
                put<uint32_t>(s.push_tags[i]);
                put<uint64_t>(s.push_cycles[i]);
            }
            put<uint32_t>(s.tx_frames.size());
            for (size_t i = 0; i < s.tx_frames.size(); i++) {
                put<uint64_t>(s.tx_first[i]);
                put<uint32_t>(s.tx_frames[i].size());
                fwrite(s.tx_frames[i].data(), 1, s.tx_frames[i].size(), stdout);
            }
        } else {
            fprintf(stderr, "unknown command %d\n", cmd);
            return 2;
        }
        fflush(stdout);
    }
    top->final();
    delete top;
    return 0;
}
