// grammar/Tariff.g4: the concrete syntax of tariff plans (docs/language.md explains each rule).
// Generated at build time by Debian's antlr4 (4.7) for libantlr4-runtime-dev (4.9); only
// compiler/parse sees the generated code, and it builds tariff's own AST from this tree.
grammar Tariff;

@parser::members {
  // True when the next token is on the line of the token before it (comments between the two
  // do not count). A charge's `allow` option must be on the line its charge ends on; an `allow`
  // that begins a line is a plan item, even right after a charge (docs/language.md).
  bool NextOnSameLine() {
    antlr4::Token* previous = _input->LT(-1);
    return previous != nullptr && previous->getLine() == _input->LT(1)->getLine();
  }
}

file : plan* EOF ;

plan : 'plan' STRING planVersion? '{' planItem* '}' ;

planVersion : 'version' NUMBER ('effective' DATETIME)? ;

planItem
  : 'currency' ident                                                    # currencyItem
  | 'period' periodLength periodOption*                                 # periodItem
  | rounding                                                            # roundingItem
  | 'proration' ('by' ident | 'none')                                   # prorationItem
  | 'unit' ident (',' ident)*                                           # unitItem
  | 'event' ident ('key' ident)? '{' fieldDecl* '}'                     # eventItem
  | 'subscription' '{' fieldDecl* '}'                                   # subscriptionItem
  | 'meter' ident '=' expr ('where' expr)?                              # meterItem
  | 'charge' STRING ('by' expr (',' expr)*)? '=' pricing chargeOption*  # chargeItem
  | 'discount' expr 'on' STRING (',' STRING)*                           # discountItem
  | 'minimum' expr ('on' STRING (',' STRING)*)? proration?              # minimumItem
  | 'maximum' expr ('on' STRING (',' STRING)*)?                         # maximumItem
  | 'subtotal' STRING 'of' STRING (',' STRING)*                         # subtotalItem
  | 'credits' 'drawn' 'by' ident (',' ident)*                           # creditsItem
  | 'on' 'change' 'prorate' ident                                       # prorateItem
  | 'invoice' 'when' 'usage' 'reaches' expr                             # thresholdItem
  | 'on' 'change' (ident | 'next' 'period')                             # changeItem
  | 'allow' ident (',' ident)*                                          # allowItem
  | test                                                                # testItem
  ;

periodLength : NUMBER? ident ;
periodOption
  : 'anchor' DATETIME      # anchorOption
  | 'timezone' STRING      # timezoneOption
  ;

rounding : 'rounding' ident ('to' NUMBER 'decimals')? 'per' ('event' | 'line' | 'invoice') ;
proration : 'prorated' 'by' ident | 'not' 'prorated' ;

fieldDecl : ident ':' typeSpec ;

typeSpec
  : 'quantity' 'of' unitExpr                # quantityType
  | 'one' 'of' STRING (',' STRING)*         # enumType
  | ident                                   # namedType
  ;

// A unit in type position: `GB`, `GB*h`, `GB·h`, `B/s`.
unitExpr : ident (('*' | MIDDOT | '/') ident)* ;

pricing
  : ('graduated' | 'volume') expr '{' tier+ beyond? '}'  # tieredPricing
  | 'each' ident ('where' expr)? ':' expr                 # perEventPricing
  | expr                                                  # formulaPricing
  ;

tier : ('up' 'to' literal | 'above') tierPrice ;
tierPrice
  : 'free'                                # freeTier
  | priceTerm ('+' priceTerm)*            # pricedTier
  ;
priceTerm : literal 'flat'? ;
// What usage past the last `up to` bound costs, in a table without `above`: the last tier's
// price goes on, or rating that customer fails (docs/language.md).
beyond : 'beyond' ':' ('last' 'price' | 'error') ;

chargeOption
  : rounding                                       # chargeRounding
  | proration                                      # chargeProration
  | 'included' literal                             # includedOption
  | 'free' 'first' literal ('or' literal)?         # freeFirstOption
  | 'no'? 'flat' 'at' 'zero'                       # flatAtZeroOption
  | 'allocated' 'by' expr 'in' 'proportion' 'to' ident # allocatedOption
  | 'billed' 'in' 'advance'                        # advanceOption
  | {NextOnSameLine()}? 'allow' ident (',' ident)* # allowOption
  ;

test : 'test' STRING ('period' DATETIME '..' DATETIME)? '{' testStmt* '}' ;

testStmt
  : 'usage' 'from' STRING                                                   # usageFile
  | 'usage' ident ('x' NUMBER)? ('at' DATETIME)? ('{' fieldInits? '}')?     # usageEvents
  | 'subscription' '{' fieldInits? '}'                                      # testSubscription
  | 'contract' '{' fieldInits? '}'                                          # testContract
  | 'credit' STRING '=' expr ('expires' DATETIME)? ('priority' NUMBER)?     # testCredit
  | 'expect' 'credit' STRING 'remaining' '=' expr                          # creditExpectation
  | 'expect' 'meter' ident ('for' STRING (',' STRING)*)? '=' expr          # meterExpectation
  | 'expect' 'threshold' 'invoice' DATETIME '=' expr                         # thresholdExpectation
  | 'expect' (STRING ('for' STRING (',' STRING)*)? ('from' DATETIME)? | 'total') '=' expr  # expectation
  | 'invoice' DATETIME '{' testStmt* '}'                                     # invoiceBlock
  ;

fieldInits : fieldInit (',' fieldInit)* ','? ;
// `plan` is a keyword, and also a test subscription's field (`subscription { plan = "pro" }`);
// `charge`, also a test contract's (`contract { charge = "Requests", … }`).
fieldInit : (ident | 'plan' | 'charge') '=' expr ;

expr
  : expr '.' ident                                        # memberExpr
  | ident '(' (expr (',' expr)*)? ')'                     # callExpr
  | ('-' | 'not') expr                                    # unaryExpr
  | expr ('*' | '/') expr                                 # mulExpr
  | expr ('+' | '-') expr                                 # addExpr
  | expr ('==' | '!=' | '<' | '<=' | '>' | '>=') expr     # compareExpr
  | expr 'and' expr                                       # andExpr
  | expr 'or' expr                                        # orExpr
  | 'match' expr '{' matchArm+ '}'                        # matchExpr
  | '(' expr ')'                                          # parenExpr
  | literal                                               # literalExpr
  | ident                                                 # nameExpr
  ;

matchArm
  : STRING (',' STRING)* ':' expr          # caseArm
  | 'else' ':' expr                        # elseArm
  ;

// Literals: `42`, `2.9%`, `25 bp`, `1000 token`, `12.50 USD`, `0.20 USD per 1000 request`,
// `5 USD per started 100 request`, `0.01 USD per GB·h`, `"text"`, `true`, `2026-03-01`. The unit
// after `per` is a unitAtom, like the unit after a number: a `*` or `/` after a rate continues
// the expression (`0.5 USD per call * subscription.mult`).
literal
  : NUMBER '%'                                                     # percentLiteral
  | NUMBER 'bp'                                                    # basisPointsLiteral
  | NUMBER unitAtom 'per' 'started'? NUMBER? unitAtom              # rateLiteral
  | NUMBER unitAtom                                                # unitLiteral
  | NUMBER                                                         # numberLiteral
  | STRING                                                         # stringLiteral
  | ('true' | 'false')                                             # boolLiteral
  | DATETIME                                                       # dateTimeLiteral
  ;

// A unit right after a number or after `per`: one name, or names joined by `·` (`2.5 GB·h`).
unitAtom : ident (MIDDOT ident)* ;

// Identifiers, including words that are keywords only where the grammar expects them.
ident
  : ID | 'x' | 'key' | 'anchor' | 'timezone' | 'effective' | 'started' | 'decimals' | 'drawn'
  | 'zero' | 'first' | 'next' | 'change' | 'up' | 'to' | 'above' | 'line' | 'invoice'
  | 'included' | 'prorated' | 'proration' | 'quantity' | 'one' | 'of' | 'total' | 'from'
  | 'at' | 'period' | 'unit' | 'version' | 'credits' | 'bp' | 'none' | 'no'
  | 'usage' | 'expect' | 'for' | 'test' | 'event' | 'subscription' | 'credit' | 'expires'
  | 'priority' | 'remaining' | 'subtotal' | 'beyond' | 'last' | 'price' | 'error' | 'contract'
  | 'allocated' | 'in' | 'proportion' | 'billed' | 'advance' | 'prorate' | 'when' | 'reaches' | 'threshold'
  ;

DATETIME : DIGIT DIGIT DIGIT DIGIT '-' DIGIT DIGIT '-' DIGIT DIGIT
           ('T' DIGIT DIGIT ':' DIGIT DIGIT (':' DIGIT DIGIT ('.' DIGIT+)?)? ('Z' | [+-] DIGIT DIGIT ':' DIGIT DIGIT))? ;
NUMBER   : DIGIT ('_'? DIGIT)* ('.' DIGIT ('_'? DIGIT)*)? ;
STRING   : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"' ;
ID       : [a-zA-Z_] [a-zA-Z_0-9]* ;
// U+00B7 MIDDLE DOT (`GB·h`). A character set, not a literal: the antlr4 4.7 C++ target writes
// non-ASCII literals as octal escapes that do not compile.
MIDDOT   : [\u00B7] ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
WS            : [ \t\r\n]+ -> channel(HIDDEN) ;
// Anything else is one bad character; the parser reports it in our words.
BAD_CHAR      : . ;

fragment DIGIT : [0-9] ;
