"""Exchange adapters: ``binance`` speaks to Binance, ``sim`` imitates it over real sockets."""
