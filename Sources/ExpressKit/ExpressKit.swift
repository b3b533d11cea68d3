public enum ExpressKit {}
