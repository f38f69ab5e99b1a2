set terminal pngcairo size 1400,720 font 'sans,11'
set output './bench-quick.png'
set title "ropeio benchmark tour (quick), 2026-12-07T06:07:10Z: each peer's warm median time over the best peer's (its best variant)\nAMD EPYC, 2 CPUs"
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 10
set yrange [0.01:*]
set grid ytics mytics
set ylabel 'time / best peer (log scale; 1 = best peer, lower is better)'
set xtics nomirror
set key outside bottom center horizontal
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb '#555555'
plot './bench-quick.dat' using 2:xtic(1) title 'ropeio' lc rgb '#1f77b4', '' using 3 title 'libevent evbuffer' lc rgb '#ff7f0e', '' using 7 title 'the limit' lc rgb '#7f7f7f'
